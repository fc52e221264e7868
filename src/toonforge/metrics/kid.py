"""Kernel Inception Distance (Bińkowski et al., 2018) on any feature set.

KID is the squared maximum mean discrepancy (MMD²) between two feature sets with the cubic
polynomial kernel ``k(x, y) = (x . y / d + 1)^3`` (d = feature dimension), estimated without
bias on random subsets and averaged. Unlike FID it has an unbiased estimator, so two samples
of one distribution score about 0 (slightly negative values are possible and expected).
"""

from __future__ import annotations

import numpy as np

from toonforge.errors import InputError

__all__ = ["kernel_inception_distance", "mmd2_unbiased", "polynomial_kernel"]


def polynomial_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``(x @ y.T / d + 1) ** 3`` for ``x`` (N, d), ``y`` (M, d); returns (N, M) float64."""
    d = x.shape[1]
    return (x @ y.T / d + 1.0) ** 3


def mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD² estimate between samples ``x`` (m, d) and ``y`` (n, d), m, n >= 2.

    Within-set kernel sums leave out the diagonal (``i == j``) terms; the cross term uses
    all pairs.
    """
    m, n = x.shape[0], y.shape[0]
    kxx = polynomial_kernel(x, x)
    kyy = polynomial_kernel(y, y)
    kxy = polynomial_kernel(x, y)
    term_x = (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
    term_y = (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
    return float(term_x + term_y - 2.0 * kxy.mean())


def kernel_inception_distance(feats_a: np.ndarray, feats_b: np.ndarray, *, subsets: int = 100,
                              subset_size: int = 1000, seed: int = 0) -> tuple[float, float]:
    """KID between two feature sets.

    Args:
        feats_a: ``(N, D)`` features; feats_b: ``(M, D)``; N, M >= 2.
        subsets: number of random subsets (>= 1).
        subset_size: samples drawn (without replacement) from each set per subset; clipped to
            ``min(N, M)``.
        seed: seed of the subset sampling (``np.random.default_rng``), for reproducible values.

    Returns:
        ``(mean, std)`` of the per-subset unbiased MMD² estimates (population std, ``ddof=0``).
        Often reported ×1000.

    Raises:
        InputError: bad shapes, fewer than 2 samples, non-finite values or bad arguments.
    """
    a = np.asarray(feats_a, dtype=np.float64)
    b = np.asarray(feats_b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise InputError(f"KID needs (N, D) and (M, D) features, got {a.shape} and {b.shape}")
    if min(a.shape[0], b.shape[0]) < 2:
        raise InputError(f"KID needs at least 2 samples per set, got {a.shape[0]} and {b.shape[0]}")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise InputError("KID: features contain NaN or infinity")
    if subsets < 1 or subset_size < 2:
        raise InputError(f"KID needs subsets >= 1 and subset_size >= 2, got {subsets} and {subset_size}")
    m = min(subset_size, a.shape[0], b.shape[0])
    rng = np.random.default_rng(seed)
    values = np.empty(subsets, dtype=np.float64)
    for i in range(subsets):
        xa = a[rng.choice(a.shape[0], m, replace=False)]
        xb = b[rng.choice(b.shape[0], m, replace=False)]
        values[i] = mmd2_unbiased(xa, xb)
    return float(values.mean()), float(values.std())
