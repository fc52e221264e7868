"""Image sharpness as the mean magnitude of the discrete Laplacian.

Definition (exact): the image is converted to grey with the ITU-R BT.601 luma weights
``Y = 0.299 R + 0.587 G + 0.114 B`` in float64 on the 0-255 scale (no rounding), filtered with
the 3x3 kernel ``[[0, 1, 0], [1, -4, 1], [0, 1, 0]]`` over the valid interior only (no padding,
so an ``(H, W)`` image gives ``(H - 2, W - 2)`` responses), and the score is the mean of the
absolute responses.

The reference production line measures the *sum* of Laplacian magnitudes; the per-pixel mean
reported here is that sum divided by ``(H - 2) * (W - 2)``, so images of different sizes
compare. Larger = more high-frequency detail (edges, texture, noise); a flat image scores 0.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from toonforge.errors import InputError
from toonforge.io.images import LUMA_601

__all__ = ["LUMA_601", "grey_601", "laplacian_sharpness", "mean_sharpness"]


def grey_601(image: np.ndarray) -> np.ndarray:
    """Grey version of an image on the 0-255 scale.

    Args:
        image: ``(H, W, 3)`` RGB or ``(H, W)`` / ``(H, W, 1)`` grey, ``uint8`` (or any real
            dtype already on the 0-255 scale).

    Returns:
        ``(H, W)`` float64, BT.601 luma for RGB input, the values themselves for grey input.
    """
    arr = np.asarray(image)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim == 2:
        grey = arr.astype(np.float64)
    elif arr.ndim == 3 and arr.shape[2] == 3:
        rgb = arr.astype(np.float64)
        grey = rgb[..., 0] * LUMA_601[0] + rgb[..., 1] * LUMA_601[1] + rgb[..., 2] * LUMA_601[2]
    else:
        raise InputError(f"expected an (H, W, 3) RGB or (H, W) grey image, got shape {arr.shape}")
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise InputError(f"image must hold numbers, got dtype {arr.dtype}")
    return grey


def laplacian_sharpness(rgb: np.ndarray) -> float:
    """Mean absolute 3x3 Laplacian of the BT.601 grey image (see the module docstring).

    Args:
        rgb: ``(H, W, 3)`` ``uint8`` RGB or ``(H, W)`` grey on the 0-255 scale, H, W >= 3.

    Returns:
        ``mean(|L|)`` over the ``(H - 2, W - 2)`` interior, float, in [0, 1020] (1020 =
        ``4 * 255``, reached everywhere by a one-pixel 0/255 checkerboard).

    Raises:
        InputError: wrong shape or an image smaller than 3x3.
    """
    g = grey_601(rgb)
    h, w = g.shape
    if h < 3 or w < 3:
        raise InputError(f"sharpness needs an image of at least 3x3 pixels, got {w}x{h}")
    centre = g[1:-1, 1:-1]
    lap = g[:-2, 1:-1] + g[2:, 1:-1] + g[1:-1, :-2] + g[1:-1, 2:] - 4.0 * centre
    return float(np.abs(lap).mean())


def mean_sharpness(images: Iterable[np.ndarray]) -> float:
    """Average of :func:`laplacian_sharpness` over images (each weighs the same).

    Raises:
        InputError: no images, or one of them is invalid.
    """
    scores = [laplacian_sharpness(im) for im in images]
    if not scores:
        raise InputError("mean_sharpness needs at least one image")
    return float(np.mean(scores))
