"""Peak signal-to-noise ratio between two 8-bit images (how close a student's output is to its
teacher's, or a quantized network's to the float one).

``psnr(a, b)`` = 10 log10(255^2 / MSE) in dB over all pixels and channels, computed in float64;
identical images give a large finite value (MSE floored at 1e-12), not infinity.
"""

from __future__ import annotations

import numpy as np

from toonforge.errors import InputError

__all__ = ["psnr"]


def psnr(a: np.ndarray, b: np.ndarray, *, peak: float = 255.0) -> float:
    """PSNR in dB of ``b`` against ``a``: arrays of one shape (any, e.g. HxWx3 uint8, 0-``peak``)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise InputError(f"psnr needs images of one shape, got {a.shape} and {b.shape}")
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float(10 * np.log10(peak ** 2 / max(mse, 1e-12)))
