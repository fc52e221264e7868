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

The stylizer does not upsample the frame and each head apart: it blends their coefficient maps
and applies them once (:mod:`.compose`); a head is guided the same way, its maps warped from
its crop into the photo, with the photo's luminance read through the style's reshape.
Work at full resolution is a few multiply-adds per pixel, done in bands of rows, so the time
grows with the pixel count and the extra memory is bounded by the band size (plus the
output). NumPy and OpenCV only.
"""

from __future__ import annotations

import math

import numpy as np

from ..face.align import AlignedFace
from .compose import compose, frame_layer

__all__ = ["MIN_SCALE", "UPSAMPLE_MODES", "guided_upsample", "is_guided_head"]

UPSAMPLE_MODES = ("guided", "bilinear")
MIN_SCALE = 1.5          # upscaling factor from which frames and heads are guided (below: plain)


def guided_upsample(low_out: np.ndarray, low_guide: np.ndarray, guide: np.ndarray) -> np.ndarray:
    """Upsample a stylized image to the size of its photo, guided by the photo.

    Args:
        low_out: ``(h, w, 3)`` uint8, the stylization at the working resolution.
        low_guide: ``(h, w, 3)`` uint8, the photo at that resolution (what the network saw).
        guide: ``(H, W, 3)`` uint8, the photo at full resolution (H >= h, W >= w).

    Returns:
        ``(H, W, 3)`` uint8 (:func:`.compose.compose` of the one frame layer).
    """
    return compose(guide, frame_layer(low_out, low_guide, (guide.shape[1], guide.shape[0])))


def is_guided_head(aligned: AlignedFace) -> bool:
    """Whether a head is guided up to its footprint: its crop covers at least ``MIN_SCALE``
    photo pixels per crop pixel (a slight upscale loses little, and guiding would bring back
    photo texture a style flattened on purpose)."""
    return math.sqrt(abs(np.linalg.det(aligned.inverse[:, :2]))) >= MIN_SCALE
