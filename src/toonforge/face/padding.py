"""Filling the part of an aligned face crop that lies outside the photo, without mirror images.

When a face is near the photo's edge, its FFHQ crop runs past it. Mirroring the photo there (and
even FFHQ's own recipe, which blurs the mirror with a fixed sigma and fades it toward the median
colour) leaves mirrored structure: a second pair of brows above the forehead, hair "horns" and
diamond shapes, which every style then draws as if they were real.

:func:`fill_padding` instead extends the photo's border colours outward by normalized
convolution from coarse to fine (a pull-push fill): each outside pixel takes the mask-weighted
average of the photo pixels around it at the finest scale that has enough of them, so the fill
is smooth, continues the colours at the edge and grows blurrier with the distance from it; it
holds no copy of anything. A band of ``SEAM`` crop sides just outside the edge fades from the
(lightly blurred) mirror into the fill, so the photo's texture does not stop at a hard line.
Pixels inside the photo are never changed.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["SEAM", "crop_alpha", "fill_padding", "wide_blur"]

SEAM = 0.02  # width of the mirror-to-fill fade outside the edge, in crop sides


def wide_blur(img: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur; wide kernels run on a shrunk copy (same look, a fraction of the time)."""
    h, w = img.shape[:2]
    factor = max(1.0, sigma / 2.0)
    if factor <= 1.5:
        return cv2.GaussianBlur(img, (0, 0), sigma, borderType=cv2.BORDER_REFLECT_101)
    small = (max(1, round(w / factor)), max(1, round(h / factor)))
    low = cv2.resize(img, small, interpolation=cv2.INTER_AREA)
    low = cv2.GaussianBlur(low, (0, 0), sigma / factor, borderType=cv2.BORDER_REFLECT_101)
    return cv2.resize(low, (w, h), interpolation=cv2.INTER_LINEAR)


def _smooth_extension(img: np.ndarray, valid: np.ndarray, median: np.ndarray) -> np.ndarray:
    """(s, s, 3) float32: the photo's colours extended into ``~valid`` by normalized convolution.

    From coarse to fine (Gaussian sigma s/2, s/4, ... down to about 1 pixel), each estimate is
    the mask-weighted mean of the photo around each pixel where enough photo pixels are near,
    and the coarser estimate elsewhere. A level of sigma ``g`` is computed on a grid shrunk by
    ``g / 2``, at least 2 (the blur is as wide there in its own pixels), and the estimate is
    carried from grid to grid; only the last step, to the crop's size, works on all its
    pixels. ``median``: the photo pixels' median colour, (3,) float32: the estimate where no
    level reaches.
    """
    s = img.shape[0]
    w = valid.astype(np.float32)
    weighted = cv2.multiply(img, _three(w))
    est = np.asarray(median).reshape(1, 1, 3).astype(np.float32)  # one pixel, resized up level by level
    sigmas = []
    sigma = s / 2.0
    while sigma >= max(1.0, 0.005 * s):
        sigmas.append(sigma)
        sigma /= 2.0
    # The shrunk (mask, weighted photo) pairs, each area-averaged from the next finer one.
    grids = {}
    finer = (w, weighted)
    for sigma in reversed(sigmas):
        factor = max(2.0, sigma / 2.0)  # the finest level too: a 1-pixel blur on the half grid
        side = max(1, round(s / factor))
        if side != finer[0].shape[0]:
            finer = tuple(cv2.resize(x, (side, side), interpolation=cv2.INTER_AREA) for x in finer)
        grids[sigma] = (side, *finer, sigma * side / s)
    # OpenCV's per-element operations on three-channel copies (numpy broadcasting a (n, n, 1)
    # array over (n, n, 3) runs several times slower).
    for sigma in sigmas:
        side, low_w, low_weighted, g = grids[sigma]
        support = cv2.GaussianBlur(low_w, (0, 0), g, borderType=cv2.BORDER_REFLECT_101)
        mean = cv2.divide(cv2.GaussianBlur(low_weighted, (0, 0), g, borderType=cv2.BORDER_REFLECT_101),
                          _three(np.maximum(support, 1e-6)))
        share = _three(np.clip((support - 0.02) / 0.2, 0.0, 1.0))  # enough photo pixels near?
        if est.shape[0] != side:  # the coarsest level starts from the median colour everywhere
            est = cv2.resize(est, (side, side), interpolation=cv2.INTER_LINEAR)
        est += cv2.multiply(share, cv2.subtract(mean, est))
    if est.shape[0] != s:
        est = cv2.resize(est, (s, s), interpolation=cv2.INTER_LINEAR)
    return est


def _masked_median(crop: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """(3,) float32: each channel's median over the ``valid`` pixels of a uint8 ``(s, s, 3)`` crop.

    From the masked histograms (all the pixels, a fraction of the time of sorting them); with
    an even count, the lower of the two middle values."""
    mask = valid.view(np.uint8)
    half = (int(np.count_nonzero(valid)) + 1) // 2
    out = [np.searchsorted(np.cumsum(cv2.calcHist([crop], [c], mask, [256], [0, 256]).ravel()), half)
           for c in range(3)]
    return np.array(out, np.float32)


def _three(x: np.ndarray) -> np.ndarray:
    """(n, m) float32 -> (n, m, 3), the plane repeated."""
    return cv2.merge([x, x, x])


def fill_padding(crop: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Replace the outside-the-photo part of a crop by a smooth extension of the photo.

    Args:
        crop: ``(s, s, 3)`` uint8 aligned crop whose outside part holds a mirror of the photo
            (``cv2.BORDER_REFLECT_101``).
        valid: ``(s, s)`` bool, True where the crop pixel came from inside the photo.

    Returns:
        ``(s, s, 3)`` uint8; equal to ``crop`` wherever ``valid`` is True.
    """
    if valid.all() or not valid.any():
        return crop
    s = crop.shape[0]
    img = crop.astype(np.float32)
    fill = _smooth_extension(img, valid, _masked_median(crop, valid))
    outside = cv2.distanceTransform((~valid).astype(np.uint8), cv2.DIST_L2, 5)
    t = np.clip(outside / max(SEAM * s, 1.0), 0.0, 1.0)
    t = t * t * (3.0 - 2.0 * t)  # smoothstep: mirror at the edge, the fill beyond
    near = wide_blur(img, max(0.5, 0.004 * s))
    blend = near + cv2.multiply(_three(t), cv2.subtract(fill, near))  # convex: never below 0
    out = cv2.convertScaleAbs(blend)  # rounded half to even and saturated, like np.rint + clip
    cv2.copyTo(crop, valid.view(np.uint8), out)  # the photo's own pixels, untouched
    return out


def crop_alpha(alpha: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """The photo's alpha under an aligned crop: ``(H, W)`` uint8 -> ``(size, size)`` uint8.

    ``matrix`` is the ``(2, 3)`` image -> crop affine of that crop (``AlignedFace.matrix``, for a
    crop of ``size`` pixels). Outside the photo there is nothing, so the crop is transparent there.
    """
    m = np.asarray(matrix, dtype=np.float64)
    scale = float(np.sqrt(abs(np.linalg.det(m[:, :2]))))  # crop px per photo px
    flags = cv2.INTER_AREA if scale < 0.75 else cv2.INTER_LINEAR
    if flags == cv2.INTER_AREA:  # warpAffine has no area mode: shrink first, then warp
        f = scale * 1.5
        small = cv2.resize(alpha, (max(1, round(alpha.shape[1] * f)), max(1, round(alpha.shape[0] * f))),
                           interpolation=cv2.INTER_AREA)
        fx, fy = small.shape[1] / alpha.shape[1], small.shape[0] / alpha.shape[0]
        to_small = np.array([[fx, 0.0, 0.5 * fx - 0.5], [0.0, fy, 0.5 * fy - 0.5], [0.0, 0.0, 1.0]])
        m = (np.vstack([m, [0.0, 0.0, 1.0]]) @ np.linalg.inv(to_small))[:2]
        alpha = small
    return cv2.warpAffine(alpha, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=0)
