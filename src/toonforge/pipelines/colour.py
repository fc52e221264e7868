"""Colour-preserving stylization: the style's detail on the photo's low-frequency colours.

A style network may repaint every face with its own skin: a pencil sketch on white paper, a
pale cartoon, anime skin with drawn shadows. That can erase the difference between a light and a
dark face. :func:`keep_colours` moves the stylization's low-frequency part (a wide Gaussian of
each CIELAB channel: lightness, and the a*/b* chroma) toward the photo's, by ``amount``::

    out = styl + amount * (G(photo) + lift - G(styl))      per L*, a*, b* channel

(in the stylizer, on each head crop, weighted by :func:`face_weight`: the face, not its hair
or background), so at ``amount = 1`` the result is the style's detail above the blur's scale (lines, strokes,
flat fills' edges) on the photo's own colour and shading at coarse scale, as colour-preserving
style transfer does; at 0 it is the stylization untouched. Working in CIELAB keeps the
lightness and the chroma apart, so a drawn outline keeps its darkness while the skin under it
takes the photo's tone. ``lift`` (L* units, added to the photo's lightness only) keeps a
style's deliberate lightening or darkening of every face (a sketch on white paper lifts skin
by about 20 L*) while the differences between faces come from the photo: the lift is the same
for every face, so it leaves their tones apart. NumPy and OpenCV only.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["BLUR_FRACTION", "face_weight", "keep_colours"]

BLUR_FRACTION = 0.03  # Gaussian sigma as a fraction of the image's long side (8 px on a 256 head)


def _lab(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb.astype(np.float32) * (1.0 / 255.0), cv2.COLOR_RGB2Lab)


def face_weight(size: int) -> np.ndarray:
    """``(size, size)`` float32 weights in [0, 1] over an FFHQ-aligned crop: 1 on the face (an
    ellipse centred at (0.5, 0.52) of the side, half-axes 0.25 x 0.33: brows to chin, cheek to
    cheek), falling smoothly to 0 from 0.8 to 1.1 of the ellipse's radius, so hair and background
    keep the style's own colours."""
    c = (np.arange(size, dtype=np.float32) + 0.5) / size
    r = np.sqrt(((c[None, :] - 0.5) / 0.25) ** 2 + ((c[:, None] - 0.52) / 0.33) ** 2)
    t = np.clip((1.1 - r) / 0.3, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def keep_colours(stylized: np.ndarray, photo: np.ndarray, amount: float, *, lift: float = 0.0,
                 chroma: float = 1.0, weight: np.ndarray | None = None,
                 blur_fraction: float = BLUR_FRACTION) -> np.ndarray:
    """Shift a stylization's coarse colours toward the photo's.

    Args:
        stylized: ``(H, W, 3)`` uint8 RGB, the network's output.
        photo: ``(H, W, 3)`` uint8 RGB, what the network was given (same size).
        amount: in [0, 1]; 0 returns ``stylized`` unchanged, 1 takes the photo's coarse colours.
        lift: L* added to the photo's coarse lightness before it is taken (the style's own
            lightening of every face; 0 keeps the photo's lightness).
        chroma: in [0, 1], the share of ``amount`` applied to a* and b* (0: lightness only, for
            a style that is colourless by design).
        weight: optional ``(H, W)`` float weights in [0, 1] that scale ``amount`` per pixel
            (e.g. :func:`face_weight`: the face only).
        blur_fraction: the low-pass Gaussian's sigma as a fraction of the long side.

    Returns:
        ``(H, W, 3)`` uint8 RGB.
    """
    if stylized.shape != photo.shape:
        raise ValueError(f"stylized and photo differ in shape: {stylized.shape} vs {photo.shape}")
    if not 0.0 <= amount <= 1.0:
        raise ValueError(f"amount must be in [0, 1], got {amount}")
    if amount == 0.0:
        return stylized
    sigma = max(1.0, blur_fraction * max(stylized.shape[:2]))
    lab_s, lab_p = _lab(stylized), _lab(photo)
    diff = lab_p - lab_s  # blurring is linear: G(photo) - G(styl) = G(photo - styl)
    diff[:, :, 0] += lift
    diff[:, :, 1:] *= chroma
    low = cv2.GaussianBlur(diff, (0, 0), sigma, borderType=cv2.BORDER_REFLECT_101)
    lab_s += amount * low if weight is None else (amount * weight)[:, :, None] * low
    rgb = cv2.cvtColor(lab_s, cv2.COLOR_Lab2RGB)
    return np.clip(rgb * 255.0 + 0.5, 0, 255).astype(np.uint8)
