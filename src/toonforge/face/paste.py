"""Putting a (stylized) face crop back into the photo through a feathered mask."""

from __future__ import annotations

import math

import cv2
import numpy as np

__all__ = ["feather_mask", "footprint", "paste_back", "shrink_to_footprint", "smoothstep"]


def smoothstep(t: np.ndarray) -> np.ndarray:
    """3t^2 - 2t^3 of ``t`` clipped to [0, 1]: a ramp from 0 to 1 with flat ends (a float NumPy
    array or torch tensor, returned as the same kind)."""
    t = t.clip(0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def feather_mask(size: int, *, margin: float = 0.06, blur: float = 0.04,
                 ellipse: bool = False) -> np.ndarray:
    """Blend weights for pasting a ``size x size`` crop.

    Args:
        size: crop side in pixels.
        margin: width of the band along the border that is fully transparent (0), as a
            fraction of ``size``.
        blur: width of the smooth ramp from 0 to 1 inside that band, as a fraction of
            ``size``; 0 gives a hard edge.
        ellipse: a round mask (the circle inscribed in the crop, shrunk by ``margin``)
            instead of a square with rounded, feathered corners.

    Returns:
        ``(size, size)`` float32 in [0, 1]: 1 in the middle, 0 at the border, never
        increasing along any line from the centre outwards.
    """
    if size < 1:
        raise ValueError(f"size must be positive, got {size}")
    if margin < 0 or blur < 0 or margin + blur >= 0.5:
        raise ValueError(f"need margin >= 0, blur >= 0 and margin + blur < 0.5, "
                         f"got margin={margin}, blur={blur}")
    centres = (np.arange(size, dtype=np.float64) + 0.5) / size  # pixel centres in (0, 1)

    def ramp(dist: np.ndarray) -> np.ndarray:
        if blur == 0:
            return (dist > margin).astype(np.float64)
        return smoothstep((dist - margin) / blur)

    if ellipse:
        dx = centres[None, :] - 0.5
        dy = centres[:, None] - 0.5
        dist = 0.5 - np.sqrt(dx * dx + dy * dy)  # distance inside the inscribed circle
        mask = ramp(dist)
    else:
        edge = ramp(np.minimum(centres, 1.0 - centres))  # distance to the nearest edge
        mask = edge[:, None] * edge[None, :]
    return mask.astype(np.float32)


def shrink_to_footprint(crop: np.ndarray, mask: np.ndarray,
                        inverse: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A crop much larger than its footprint in the photo, shrunk with area averaging first so
    that the bilinear warp into the photo does not alias.

    Args:
        crop: ``(s, s, C)`` (any dtype OpenCV resizes) square crop.
        mask: ``(s, s)`` float32 paste weights.
        inverse: ``(2, 3)`` crop pixel -> photo pixel affine.

    Returns:
        ``(crop, mask, inverse)``: unchanged (``inverse`` as float64) when the crop is at most
        4/3 its footprint's side, else shrunk to about the footprint with the matching affine.
    """
    inv = np.asarray(inverse, dtype=np.float64).reshape(2, 3)
    s = crop.shape[0]
    scale = math.sqrt(abs(np.linalg.det(inv[:, :2])))  # photo pixels per crop pixel
    if scale >= 0.75:
        return crop, mask, inv
    small = max(2, math.ceil(s * scale))
    f = small / s
    crop = cv2.resize(crop, (small, small), interpolation=cv2.INTER_AREA)
    mask = cv2.resize(mask, (small, small), interpolation=cv2.INTER_AREA)
    to_small = np.array([[f, 0.0, 0.5 * f - 0.5], [0.0, f, 0.5 * f - 0.5], [0, 0, 1.0]])
    return crop, mask, (np.vstack([inv, [0.0, 0.0, 1.0]]) @ np.linalg.inv(to_small))[:2]


def footprint(side: int, inverse: np.ndarray, width: int, height: int) -> tuple[int, int, int, int]:
    """``(x0, y0, x1, y1)``: the photo pixels a ``side``-pixel square crop can touch through its
    crop -> photo affine ``inverse`` (with a pixel's margin for interpolation), clipped to a
    ``width x height`` photo; empty (``x1 <= x0`` or ``y1 <= y0``) when the crop misses it."""
    inv = np.asarray(inverse, dtype=np.float64)
    s = side
    corners = np.array([[-0.5, -0.5], [s - 0.5, -0.5], [-0.5, s - 0.5], [s - 0.5, s - 0.5]])
    pts = corners @ inv[:, :2].T + inv[:, 2]
    x0 = int(np.clip(math.floor(pts[:, 0].min()) - 1, 0, width))
    y0 = int(np.clip(math.floor(pts[:, 1].min()) - 1, 0, height))
    x1 = int(np.clip(math.ceil(pts[:, 0].max()) + 2, 0, width))
    y1 = int(np.clip(math.ceil(pts[:, 1].max()) + 2, 0, height))
    return x0, y0, x1, y1


def paste_back(background: np.ndarray, crop: np.ndarray, inverse: np.ndarray,
               mask: np.ndarray | None = None) -> np.ndarray:
    """Warp a square crop back into the photo and blend it in.

    Args:
        background: ``(H, W, 3)`` ``uint8`` photo (not modified).
        crop: ``(s, s, 3)`` ``uint8`` crop (e.g. the stylized aligned face).
        inverse: ``(2, 3)`` affine, crop pixel -> photo pixel (``AlignedFace.inverse``; a
            crop of another size than the aligned one needs a matching affine).
        mask: ``(s, s)`` float32 weights in [0, 1] (1 = crop, 0 = photo); default
            :func:`feather_mask` of ``s``.

    Returns:
        ``(H, W, 3)`` ``uint8`` photo with the crop blended in.
    """
    if background.dtype != np.uint8 or background.ndim != 3 or background.shape[2] != 3:
        raise ValueError(f"background must be (H, W, 3) uint8, got {background.dtype} "
                         f"{background.shape}")
    s = crop.shape[0]
    if crop.dtype != np.uint8 or crop.shape != (s, s, 3):
        raise ValueError(f"crop must be (s, s, 3) uint8, got {crop.dtype} {crop.shape}")
    if mask is None:
        mask = feather_mask(s)
    if mask.shape != (s, s):
        raise ValueError(f"mask must have shape {(s, s)}, got {mask.shape}")
    crop, mask, inv = shrink_to_footprint(crop, np.asarray(mask, dtype=np.float32), inverse)

    # Only the photo region under the crop is touched.
    h, w = background.shape[:2]
    x0, y0, x1, y1 = footprint(crop.shape[0], inv, w, h)
    out = background.copy()
    if x1 <= x0 or y1 <= y0:
        return out
    shifted = inv.copy()
    shifted[:, 2] -= (x0, y0)
    region = (x1 - x0, y1 - y0)
    # One warp for colour and weight: the mask rides along as a fourth uint8 channel (the
    # feather mask is 0 at the crop border, so the constant black border never shows).
    rgba = np.dstack([crop, np.rint(np.clip(mask, 0.0, 1.0) * 255).astype(np.uint8)])
    warped = cv2.warpAffine(rgba, shifted, region, flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    face = np.ascontiguousarray(warped[:, :, :3])
    weight = warped[:, :, 3].astype(np.float32) * (1.0 / 255.0)
    # cv2.blendLinear computes face * w + base * (1 - w) per pixel, rounding to uint8.
    out[y0:y1, x0:x1] = cv2.blendLinear(face, out[y0:y1, x0:x1], weight, 1.0 - weight)
    return out
