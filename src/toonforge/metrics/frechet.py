"""Fréchet distance between Gaussians fitted to two feature sets (FID, FD-MNv2, ...).

``FD = ||mu1 - mu2||^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^(1/2))``.

The trace of the matrix square root is computed without scipy: with ``R = S1^(1/2)`` (from a
symmetric eigendecomposition of S1), ``S1 S2`` is similar to the symmetric positive
semi-definite ``R S2 R``, so ``tr((S1 S2)^(1/2))`` is the sum of the square roots of the
eigenvalues of ``R S2 R``. Tiny negative eigenvalues from round-off are clipped to 0, which
keeps the result real and stable even for singular covariances (fewer samples than
dimensions).

:func:`fd_between` takes a shortcut when a set has fewer samples than dimensions (e.g. 50
images, 2048-d features): with centred samples ``A`` (n, D) and ``B`` (m, D),
``S1 S2 = A^T A B^T B / ((n-1)(m-1))`` has the same non-zero eigenvalues as ``C C^T`` with
``C = A B^T / sqrt((n-1)(m-1))``, so ``tr((S1 S2)^(1/2))`` is the sum of the singular values of
the small (n, m) matrix ``C``: the same value, without D x D eigendecompositions.
"""

from __future__ import annotations

import numpy as np

from toonforge.errors import InputError

__all__ = ["fd_between", "frechet_distance", "gaussian_stats"]


def _as_features(feats: np.ndarray, what: str) -> np.ndarray:
    x = np.asarray(feats, dtype=np.float64)
    if x.ndim != 2:
        raise InputError(f"{what}: expected an (N, D) feature array, got shape {x.shape}")
    if x.shape[0] < 2:
        raise InputError(f"{what}: need at least 2 samples to estimate a covariance, got {x.shape[0]}")
    if not np.isfinite(x).all():
        raise InputError(f"{what}: features contain NaN or infinity")
    return x


def gaussian_stats(feats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of a feature set.

    Args:
        feats: ``(N, D)`` real array, one row per sample, N >= 2.

    Returns:
        ``mu`` ``(D,)`` float64 and ``sigma`` ``(D, D)`` float64 (unbiased, ``N - 1``
        normalisation; ``np.cov(rowvar=False)``).
    """
    x = _as_features(feats, "gaussian_stats")
    mu = x.mean(axis=0)
    sigma = np.atleast_2d(np.cov(x, rowvar=False))
    return mu, sigma


def _sqrt_psd(mat: np.ndarray) -> np.ndarray:
    """Symmetric square root of a (nearly) positive semi-definite symmetric matrix."""
    vals, vecs = np.linalg.eigh(0.5 * (mat + mat.T))
    vals = np.clip(vals, 0.0, None)
    return (vecs * np.sqrt(vals)) @ vecs.T


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Fréchet (2-Wasserstein) distance between N(mu1, sigma1) and N(mu2, sigma2).

    Args:
        mu1, mu2: ``(D,)`` means. sigma1, sigma2: ``(D, D)`` symmetric PSD covariances.

    Returns:
        The squared distance (as FID reports it), float >= 0; negative round-off is clipped
        to 0.

    Raises:
        InputError: shapes disagree or values are not finite.
    """
    m1, m2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    s1, s2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    d = m1.shape[0]
    if m1.shape != (d,) or m2.shape != (d,) or s1.shape != (d, d) or s2.shape != (d, d):
        raise InputError(f"Fréchet distance: shapes disagree: mu {m1.shape} / {m2.shape}, "
                         f"sigma {s1.shape} / {s2.shape}")
    if not all(np.isfinite(a).all() for a in (m1, m2, s1, s2)):
        raise InputError("Fréchet distance: statistics contain NaN or infinity")
    root1 = _sqrt_psd(s1)
    middle = root1 @ s2 @ root1
    eig = np.clip(np.linalg.eigvalsh(0.5 * (middle + middle.T)), 0.0, None)
    tr_covmean = float(np.sqrt(eig).sum())
    diff = m1 - m2
    value = float(diff @ diff) + float(np.trace(s1)) + float(np.trace(s2)) - 2.0 * tr_covmean
    return max(value, 0.0)


def fd_between(feats_a: np.ndarray, feats_b: np.ndarray) -> float:
    """Fréchet distance between the Gaussians fitted to two ``(N, D)`` / ``(M, D)`` feature sets.

    Raises:
        InputError: fewer than 2 samples in a set, or feature dimensions differ.
    """
    a = _as_features(feats_a, "first feature set")
    b = _as_features(feats_b, "second feature set")
    if a.shape[1] != b.shape[1]:
        raise InputError(f"feature dimensions differ: {a.shape[1]} vs {b.shape[1]}")
    n, m, d = a.shape[0], b.shape[0], a.shape[1]
    if min(n, m) >= d:
        return frechet_distance(*gaussian_stats(a), *gaussian_stats(b))
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    ca, cb = a - mu_a, b - mu_b
    tr_a = float((ca * ca).sum()) / (n - 1)
    tr_b = float((cb * cb).sum()) / (m - 1)
    cross = (ca @ cb.T) / np.sqrt((n - 1) * (m - 1))
    tr_covmean = float(np.linalg.svd(cross, compute_uv=False).sum())
    diff = mu_a - mu_b
    return max(float(diff @ diff) + tr_a + tr_b - 2.0 * tr_covmean, 0.0)
