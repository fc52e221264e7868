"""Full-resolution output: a low-resolution stylization upsampled under the guidance of the photo.

The networks run at a working resolution (a frame at long side ``full_resolution``, a head at
the head resolution); upscaling their output with a plain interpolation leaves a large photo
soft at 1:1. :func:`guided_upsample` is the fast guided filter (He and Sun, 2015): at the low
resolution it fits, in every window, the stylized image as a linear function of the photo's
luminance, ``out_c = a_c * Y + b_c``; the slope maps are smooth, so they are upsampled
bilinearly and applied to the full-resolution luminance, and what the linear model does not
explain (the style's own strokes) is upsampled bilinearly and added, so the result equals the
plain upscale plus ``a`` times the photo's detail finer than the working resolution.
Edges the style kept (outlines drawn on the photo's edges, hair, eyes) come back at the
photo's own sharpness, while regions the style flattened (``a`` near 0) stay flat: the style
decides what is detailed, the photo where.

Work at full resolution is a few multiply-adds per pixel, done in bands of rows, so the time
grows with the pixel count and the extra memory is bounded by the band size (plus the
output). NumPy and OpenCV only.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from ..face.align import AlignedFace, align_face

__all__ = ["MIN_SCALE", "UPSAMPLE_MODES", "guided_upsample", "sharp_head"]

UPSAMPLE_MODES = ("guided", "bilinear")
BAND_ROWS = 256          # output rows per band of the full-resolution pass (bounds the memory)
MAX_HEAD_SIDE = 2048     # largest side of a guided head before it is pasted
GUIDE_PAD = "replicate"  # padding of the full-resolution guide crop of a head (see sharp_head)
MIN_SCALE = 1.5          # upscaling factor from which frames and heads are guided (below: plain)
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def _luma(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 -> (H, W) float32 BT.601 luminance in [0, 1]."""
    return (rgb.astype(np.float32) @ _LUMA) * (1.0 / 255.0)


def _box(x: np.ndarray, r: int) -> np.ndarray:
    """Mean over a (2r + 1)^2 window, reflected at the borders (float32, any channels)."""
    return cv2.blur(x, (2 * r + 1, 2 * r + 1), borderType=cv2.BORDER_REFLECT_101)


def _coefficients(low_out: np.ndarray, low_guide: np.ndarray, radius: int,
                  eps: float) -> tuple[np.ndarray, np.ndarray]:
    """Coefficient maps (a, c), each (h, w, 3) float32 on the 0-255 scale.

    ``a`` is the guided filter's window-mean slope of the stylization on the photo's
    luminance ``Y``; ``c = low_out - a * Y`` keeps everything ``a * Y`` does not explain (the
    style's own strokes and colours), so ``a * Y + c`` reproduces ``low_out`` exactly at the
    low resolution and, with the full-resolution ``Y``, adds the photo's finer detail where
    the style follows the photo.
    """
    y = _luma(low_guide)
    p = low_out.astype(np.float32) * (1.0 / 255.0)
    mean_y = _box(y, radius)
    mean_p = _box(p, radius)
    cov = _box(p * y[:, :, None], radius) - mean_p * mean_y[:, :, None]
    var = _box(y * y, radius) - mean_y * mean_y
    a = _box(cov / (var + eps)[:, :, None], radius)
    c = (p - a * y[:, :, None]) * 255.0
    return a, c


def _band_map(out_size: tuple[int, int], in_size: tuple[int, int], start: int) -> np.ndarray:
    """Affine (2, 3), output pixel of a band starting at row ``start`` -> low-resolution pixel.

    Bilinear resizing in pixel-centre coordinates (``u = (x + 0.5) * in / out - 0.5``), as
    ``cv2.resize`` does, so each band is one ``cv2.warpAffine`` (edges clamped) of the maps.
    ``out_size`` and ``in_size`` are (width, height).
    """
    fx, fy = in_size[0] / out_size[0], in_size[1] / out_size[1]
    return np.array([[fx, 0.0, 0.5 * fx - 0.5], [0.0, fy, (start + 0.5) * fy - 0.5]])


def guided_upsample(low_out: np.ndarray, low_guide: np.ndarray, guide: np.ndarray, *,
                    radius: int = 2, eps: float = 1e-4) -> np.ndarray:
    """Upsample a stylized image to the size of its photo, guided by the photo.

    Args:
        low_out: ``(h, w, 3)`` uint8, the stylization at the working resolution.
        low_guide: ``(h, w, 3)`` uint8, the photo at that resolution (what the network saw).
        guide: ``(H, W, 3)`` uint8, the photo at full resolution (H >= h, W >= w).
        radius: window radius in low-resolution pixels.
        eps: regularization on the [0, 1] luminance scale; larger = smoother (fewer photo
            details brought back where the style does not follow the photo).

    Returns:
        ``(H, W, 3)`` uint8.
    """
    if low_out.shape != low_guide.shape or low_out.ndim != 3 or low_out.shape[2] != 3:
        raise ValueError(f"low_out and low_guide must be the same (h, w, 3), got {low_out.shape} "
                         f"and {low_guide.shape}")
    h, w = low_out.shape[:2]
    big_h, big_w = guide.shape[:2]
    a, b = _coefficients(low_out, low_guide, radius, eps)  # out = a * Y + b, Y on 0-255
    out = np.empty((big_h, big_w, 3), np.uint8)
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    for start in range(0, big_h, BAND_ROWS):
        stop = min(start + BAND_ROWS, big_h)
        to_low = _band_map((big_w, big_h), (w, h), start)
        size = (big_w, stop - start)
        band_a = cv2.warpAffine(a, to_low, size, flags=flags, borderMode=cv2.BORDER_REPLICATE)
        band_b = cv2.warpAffine(b, to_low, size, flags=flags, borderMode=cv2.BORDER_REPLICATE)
        grey = cv2.cvtColor(guide[start:stop], cv2.COLOR_RGB2GRAY)
        y = cv2.cvtColor(grey, cv2.COLOR_GRAY2RGB).astype(np.float32)
        # a * Y + b, rounded and saturated to uint8 by OpenCV.
        out[start:stop] = cv2.add(cv2.multiply(band_a, y), band_b, dtype=cv2.CV_8U)
    return out


def sharp_head(rgb: np.ndarray, landmarks: np.ndarray, head: np.ndarray, aligned: AlignedFace,
               warp=None) -> tuple[np.ndarray, np.ndarray]:
    """A stylized head at the size it covers in the photo, for pasting at the photo's sharpness.

    Args:
        rgb: ``(H, W, 3)`` uint8, the photo.
        landmarks: the face's landmarks in photo pixels.
        head: ``(s, s, 3)`` uint8, the stylized (and possibly reshaped) aligned crop.
        aligned: the :class:`AlignedFace` the head was made from (``s`` pixels).
        warp: None, or a function ``(crop, landmarks_in_crop) -> crop`` that applies the
            style's reshape to a crop of any size (so the guide matches the reshaped head).

    Returns:
        ``(head, inverse)``: the head guided up to its footprint (at most
        ``MAX_HEAD_SIDE``), and its crop -> photo affine; the input head and
        ``aligned.inverse`` when the face's footprint is under ``MIN_SCALE`` times the crop's side
        (a slight upscale loses little, and guiding would bring back photo texture a style
        flattened on purpose).
    """
    s = head.shape[0]
    scale = math.sqrt(abs(np.linalg.det(aligned.inverse[:, :2])))  # photo px per crop px
    if scale < MIN_SCALE:
        return head, aligned.inverse
    side = min(MAX_HEAD_SIDE, int(round(s * scale)))
    # The big crop only guides (per pixel) the head's full-resolution pass; where it runs past
    # the photo, the guided head lands outside the photo and is never pasted, so its padding is
    # the photo's edge pixels repeated (free) rather than the smooth fill the network's crop
    # needs (which at a large footprint cost most of a 1024 px portrait's pipeline time).
    big = align_face(rgb, landmarks, side, pad_mode=GUIDE_PAD)
    guide_low, guide_big = aligned.crop, big.crop
    if warp is not None:
        guide_low = warp(aligned.crop, aligned.landmarks_in_crop)
        guide_big = warp(big.crop, big.landmarks_in_crop)
    return guided_upsample(head, guide_low, guide_big), big.inverse
