"""Landmark-driven face reshaping: larger eyes, a smaller nose, a narrower lower face.

A texture translator (DCT-Net and the students distilled from it) keeps every pixel where it
was, so it cannot give a face anime's proportions. A style may therefore carry a
:class:`ReshapeSpec`; the stylizer then resamples each stylized face crop through a smooth
warp built from the face's own five landmarks (eyes, nose tip, mouth corners, in crop pixels).

The warp is a backward map ``src = p + offset(p)``: output pixel ``p`` takes its value from
``src`` (bilinear). It is the sum of three parts, each zero away from its own region, so the
crop's border (where it is feathered back into the photo) never moves:

* **eye lenses**: around each eye centre ``c``, ``src = c + (p - c) * (1 - k * (1 - u^2)^2)``
  with ``u = |p - c| / R`` (0 for ``u >= 1``) and ``k = 1 - 1 / eyes``: the eye is magnified
  ``eyes`` times at its centre, falling smoothly to no change at radius ``R``;
* **nose lens**: the same around the nose tip with ``nose`` (below 1 shrinks it);
* **jaw squeeze**: along the eye line, ``src_x = x + jaw * v(y) * x * (1 - x^2 / X^2)^2`` for
  ``|x| < X`` (x measured from the face's midline, ``X`` = 1.55 eye distances): sampling from
  further out pulls the cheeks and jaw towards the midline; ``v`` rises from 0 at the eyes to 1
  at the mouth and falls back to 0 at the chin, which keeps its point.

Each part is one-to-one for the allowed parameter ranges (the radial maps and the squeeze are
increasing along their axis), so no pixel folds over another; ``tests/test_reshape.py``
checks the Jacobian on real-sized crops.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import cv2
import numpy as np

from ..errors import InputError
from .paste import smoothstep
from .types import five_points_f64

__all__ = ["RESHAPE_LIMITS", "ReshapeSpec", "reshape_maps", "warp_crop"]

# Allowed ranges: wide enough for caricature, narrow enough that nothing folds. The eye lenses
# (radius at most half the eye distance) never overlap each other.
RESHAPE_LIMITS: dict[str, tuple[float, float]] = {
    "eyes": (1.0, 2.0),
    "eye_radius": (0.2, 0.5),
    "nose": (0.7, 1.0),
    "jaw": (0.0, 0.3),
}


@dataclass(frozen=True)
class ReshapeSpec:
    """How a style reshapes faces.

    Attributes:
        eyes: magnification at each eye centre (1 = none).
        eye_radius: radius of each eye lens, as a fraction of the distance between the eyes.
        nose: magnification at the nose tip (below 1 makes it smaller).
        jaw: strength of the squeeze of cheeks and jaw towards the midline (0 = none).
    """

    eyes: float = 1.0
    eye_radius: float = 0.45
    nose: float = 1.0
    jaw: float = 0.0

    def __post_init__(self) -> None:
        for name, (lo, hi) in RESHAPE_LIMITS.items():
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or not lo <= value <= hi:
                raise InputError(f"reshape {name} must be a number in [{lo}, {hi}], got {value!r}")

    @classmethod
    def from_dict(cls, d: Any, where: str = "reshape") -> ReshapeSpec:
        """Parse ``{"eyes": 1.3, ...}``; unknown keys and bad values raise a one-line InputError."""
        if not isinstance(d, dict):
            raise InputError(f"bad {where}: expected an object such as {{\"eyes\": 1.3}}")
        unknown = sorted(set(d) - set(RESHAPE_LIMITS))
        if unknown:
            raise InputError(f"bad {where}: unknown key(s) {', '.join(unknown)}; "
                             f"known: {', '.join(RESHAPE_LIMITS)}")
        try:
            return cls(**{k: float(v) for k, v in d.items()})
        except (TypeError, ValueError):
            raise InputError(f"bad {where}: every value must be a number") from None
        except InputError as exc:
            raise InputError(f"bad {where}: {exc}") from None

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    @property
    def is_identity(self) -> bool:
        return self.eyes == 1.0 and self.nose == 1.0 and self.jaw == 0.0

    def scaled(self, t: float) -> ReshapeSpec:
        """The same reshape at a fraction ``t`` in [0, 1] of its strength (t=0: identity)."""
        t = min(max(float(t), 0.0), 1.0)
        return ReshapeSpec(eyes=self.eyes ** t, eye_radius=self.eye_radius, nose=self.nose ** t,
                           jaw=self.jaw * t)


def _lens(px: np.ndarray, py: np.ndarray, centre: np.ndarray, radius: float,
          scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Offsets (dx, dy) of a radial lens magnifying ``scale`` times at ``centre``."""
    k = 1.0 - 1.0 / scale
    rx, ry = px - centre[0], py - centre[1]
    u2 = np.minimum((rx * rx + ry * ry) / (radius * radius), 1.0)
    shrink = -k * (1.0 - u2) ** 2  # src = c + r * (1 + shrink)
    return rx * shrink, ry * shrink


def reshape_maps(landmarks: np.ndarray, size: int, spec: ReshapeSpec) -> tuple[np.ndarray, np.ndarray]:
    """The backward sampling maps of the warp for one face crop.

    Args:
        landmarks: ``(68, 2)`` or ``(5, 2)`` face landmarks in crop pixels (pixel centres at
            integers), e.g. ``AlignedFace.landmarks_in_crop``.
        size: side of the square crop in pixels.
        spec: the reshape.

    Returns:
        ``(map_x, map_y)``, each ``(size, size)`` float32: output pixel ``(row, col)`` samples
        the input at ``(map_x[row, col], map_y[row, col])``, as ``cv2.remap`` takes them.
    """
    pts = five_points_f64(landmarks)
    eye_l, eye_r, nose = pts[0], pts[1], pts[2]
    mouth = (pts[3] + pts[4]) * 0.5
    eye_mid = (eye_l + eye_r) * 0.5
    iod = max(float(np.hypot(*(eye_r - eye_l))), 1.0)
    grid = np.arange(size, dtype=np.float64)
    px, py = np.meshgrid(grid, grid)
    dx = np.zeros_like(px)
    dy = np.zeros_like(py)
    if spec.eyes != 1.0:
        for eye in (eye_l, eye_r):
            ox, oy = _lens(px, py, eye, spec.eye_radius * iod, spec.eyes)
            dx += ox
            dy += oy
    if spec.nose != 1.0:
        ox, oy = _lens(px, py, nose, 0.35 * iod, spec.nose)
        dx += ox
        dy += oy
    if spec.jaw > 0.0:
        # Work in the face's own frame: x along the eye line, y down the face (the crop is
        # upright, but a face need not be exactly so).
        ax = (eye_r - eye_l) / iod
        ay = np.array([-ax[1], ax[0]])
        fx = (px - eye_mid[0]) * ax[0] + (py - eye_mid[1]) * ax[1]
        fy = (px - eye_mid[0]) * ay[0] + (py - eye_mid[1]) * ay[1]
        mouth_y = max(float((mouth - eye_mid) @ ay), 1.0)
        rise = smoothstep(fy / mouth_y)  # 0 at the eyes, 1 at the mouth
        fade = 1.0 - smoothstep((fy - 1.1 * mouth_y) / (0.4 * mouth_y))  # gone at the chin
        reach = 1.55 * iod  # no squeeze farther than this from the midline
        v = np.minimum(fx * fx / (reach * reach), 1.0)
        along = spec.jaw * rise * fade * fx * (1.0 - v) ** 2
        dx += along * ax[0]
        dy += along * ax[1]
    return (px + dx).astype(np.float32), (py + dy).astype(np.float32)


def warp_crop(crop: np.ndarray, maps: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Resample an ``(S, S, C)`` ``uint8`` crop through :func:`reshape_maps` (bilinear)."""
    return cv2.remap(crop, maps[0], maps[1], interpolation=cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REFLECT_101)
