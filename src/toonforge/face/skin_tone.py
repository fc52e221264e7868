"""A face's skin tone in CIELAB, read from cheek and forehead patches placed by its landmarks.

Three round patches, all sized by the eye distance ``d`` and placed in the face's own frame
(``x`` along the eye line, ``y`` from the eyes toward the mouth):

- each cheek: halfway between the eye and the mouth corner on that side, moved ``0.08 d``
  outward, radius ``0.16 d``;
- the forehead: ``0.6`` eye-to-mouth distances above the eyes' midpoint, radius ``0.18 d``.

The tone is the per-channel median of the pixels in the patches (robust to a stray hair, a
highlight or a line drawn across a cheek); ``l_iqr``, the interquartile range of their L*,
measures how uneven the skin is (blotches, mud patches, hatching). Converted with OpenCV's sRGB (D65) -> CIELAB:
``L*`` in [0, 100], ``a*``, ``b*`` in about [-128, 127]; ``hue`` is ``atan2(b*, a*)`` in
degrees. The same patches read a stylized output at the photo's landmarks (the output has the
photo's geometry), so input and output tones compare point for point.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from .types import five_points_f64

__all__ = ["TONE_GROUPS", "SkinTone", "measure_skin", "skin_patch_mask", "tone_group"]

# Groups of faces by the photo's own skin L* (lower bound inclusive): light / medium / dark.
TONE_GROUPS = (("light", 65.0), ("medium", 50.0), ("dark", -math.inf))
MIN_PIXELS = 30  # fewer skin pixels inside the image than this: no measurement


@dataclass(frozen=True)
class SkinTone:
    """Median CIELAB of a face's skin patches."""

    L: float  # noqa: N815 (CIELAB's own name)
    a: float
    b: float
    pixels: int
    l_iqr: float = 0.0  # interquartile range of the patch pixels' L*: mottling, blotches, drawn marks

    @property
    def hue(self) -> float:
        """Hue angle ``atan2(b*, a*)`` in degrees, in (-180, 180]."""
        return math.degrees(math.atan2(self.b, self.a))

    @property
    def chroma(self) -> float:
        return math.hypot(self.a, self.b)


def tone_group(lightness: float) -> str:
    """``"light"`` (L* >= 65), ``"medium"`` (50 <= L* < 65) or ``"dark"`` (L* < 50)."""
    return next(name for name, low in TONE_GROUPS if lightness >= low)


def skin_patch_mask(shape: tuple[int, ...], landmarks: np.ndarray) -> np.ndarray:
    """``(H, W)`` bool mask of the three skin patches (see the module docstring).

    Args:
        shape: the image's shape, ``(H, W, ...)``.
        landmarks: ``(68, 2)`` or ``(5, 2)`` float pixel coordinates of one face.
    """
    pts = five_points_f64(landmarks)
    eye_l, eye_r, _, mouth_l, mouth_r = pts
    d = float(np.hypot(*(eye_r - eye_l)))
    x = (eye_r - eye_l) / max(d, 1e-6)
    eye_mid, mouth_mid = (eye_l + eye_r) / 2, (mouth_l + mouth_r) / 2
    centres = [((eye_l + mouth_l) / 2 - 0.08 * d * x, 0.16 * d),
               ((eye_r + mouth_r) / 2 + 0.08 * d * x, 0.16 * d),
               (eye_mid - 0.6 * (mouth_mid - eye_mid), 0.18 * d)]
    mask = np.zeros(shape[:2], np.uint8)
    for (cx, cy), r in centres:
        if math.isfinite(cx) and math.isfinite(cy):
            cv2.circle(mask, (int(round(cx)), int(round(cy))), max(1, int(round(r))), 1, thickness=-1)
    return mask.astype(bool)


def measure_skin(rgb: np.ndarray, landmarks: np.ndarray) -> SkinTone | None:
    """The skin tone of the face at ``landmarks`` in ``rgb`` ((H, W, 3) uint8), or None when
    fewer than ``MIN_PIXELS`` patch pixels lie inside the image."""
    mask = skin_patch_mask(rgb.shape, landmarks)
    pixels = rgb[mask]
    if len(pixels) < MIN_PIXELS:
        return None
    median = np.median(pixels.astype(np.float32), axis=0) / 255.0
    lab = cv2.cvtColor(median.reshape(1, 1, 3).astype(np.float32), cv2.COLOR_RGB2Lab)[0, 0]
    lightness = cv2.cvtColor((pixels.astype(np.float32) / 255.0).reshape(-1, 1, 3), cv2.COLOR_RGB2Lab)[:, 0, 0]
    q25, q75 = np.percentile(lightness, [25, 75])
    return SkinTone(float(lab[0]), float(lab[1]), float(lab[2]), int(len(pixels)), float(q75 - q25))
