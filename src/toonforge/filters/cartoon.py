"""Non-learned cartoon filter: smooth, flatten colours, draw dark outlines.

It is a shipped baseline style and the generator of training targets for the first learned
style, so it is deterministic (no random state anywhere) and resolution-aware: the smoothing
and line detection run on copies resized to fixed working sizes, so a 256 and a 1024 pixel
version of one photo come out alike.

Steps
1. Edge-preserving smoothing: a few bilateral passes on a copy whose long side is
   ``work_size`` (inputs of any size are resized to it).
2. Colour quantisation at ``work_size``: k-means in CIE Lab (lightness down-weighted so hue
   differences such as cheeks vs skin get their own colours) on a fixed subsample with a
   fixed, lightness-quantile initialisation; pixels are mapped through a 32x32x32 lookup table
   of nearest centres, then a small mode filter removes colour specks.
3. Back to full size: the flat image is upscaled bilinearly and looked up again, so region
   borders come out round instead of blocky.
4. Outlines: a difference of Gaussians on the smoothed luminance at ``line_size`` resolution,
   thresholded, cleaned of small specks (connected components) and softly resized; lines are
   drawn by darkening the flat colour underneath rather than painting pure black.

No random numbers are used; output is reproducible for a given input, parameters and
OpenCV/NumPy build.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from toonforge.errors import InputError

FILTER_DEFAULTS: dict[str, Any] = {
    "work_size": 320,  # long side (px) of the copy that is smoothed and quantised
    "smooth_passes": 5,  # bilateral passes at work_size
    "sigma_color": 28.0,  # bilateral range sigma (uint8 units)
    "sigma_space": 4.0,  # bilateral spatial sigma (px at work_size)
    "colors": 14,  # k-means palette size
    "lightness_weight": 0.55,  # weight of L against a, b in the k-means distance
    "kmeans_iters": 12,
    "region_radius": 2,  # mode-filter radius (px at work_size) that removes colour specks
    "line_size": 512,  # long side (px) at which outlines are detected
    "line_sigma": 1.6,  # DoG inner sigma at line_size (px)
    "line_threshold": 2.5,  # DoG response (grey levels) that counts as a line
    "min_line_area": 60,  # connected line pieces smaller than this (px at line_size) are dropped
    "edge_strength": 0.75,  # 0: no outlines, 1: outlines darken to black
    "saturation": 1.1,  # chroma gain applied to the palette
}

_LUT_BITS = 5  # lookup table resolution per channel (32 levels)


def cartoonize(
    rgb: np.ndarray,
    *,
    work_size: int = FILTER_DEFAULTS["work_size"],
    smooth_passes: int = FILTER_DEFAULTS["smooth_passes"],
    sigma_color: float = FILTER_DEFAULTS["sigma_color"],
    sigma_space: float = FILTER_DEFAULTS["sigma_space"],
    colors: int = FILTER_DEFAULTS["colors"],
    lightness_weight: float = FILTER_DEFAULTS["lightness_weight"],
    kmeans_iters: int = FILTER_DEFAULTS["kmeans_iters"],
    region_radius: int = FILTER_DEFAULTS["region_radius"],
    line_size: int = FILTER_DEFAULTS["line_size"],
    line_sigma: float = FILTER_DEFAULTS["line_sigma"],
    line_threshold: float = FILTER_DEFAULTS["line_threshold"],
    min_line_area: int = FILTER_DEFAULTS["min_line_area"],
    edge_strength: float = FILTER_DEFAULTS["edge_strength"],
    saturation: float = FILTER_DEFAULTS["saturation"],
) -> np.ndarray:
    """Cartoonize an RGB photo.

    rgb: (H, W, 3) uint8 RGB (a greyscale-looking image is fine; any size from 1x1).
    Parameters are described in ``FILTER_DEFAULTS``; sizes are in pixels of the working copies,
    so the look does not depend on the input resolution.
    Returns a new (H, W, 3) uint8 RGB array. Deterministic for a given input and parameters.
    """
    if not isinstance(rgb, np.ndarray) or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise InputError(f"cartoonize expects an (H, W, 3) array, got {getattr(rgb, 'shape', rgb)}")
    if rgb.dtype != np.uint8:
        raise InputError(f"cartoonize expects uint8 pixels, got {rgb.dtype}")
    if colors < 1 or work_size < 1 or line_size < 1:
        raise InputError("cartoonize: colors, work_size and line_size must be >= 1")
    h, w = rgb.shape[:2]
    if h == 0 or w == 0:
        raise InputError("cartoonize: empty image")
    rgb = np.ascontiguousarray(rgb)

    # Every image (but a tiny one) is smoothed and quantised at the same working size, so the
    # look does not depend on the input resolution.
    small = _resize_long(rgb, int(work_size)) if max(h, w) >= 16 else rgb
    for _ in range(max(0, int(smooth_passes))):
        small = cv2.bilateralFilter(small, 9, float(sigma_color), float(sigma_space))
    palette, base, lut = _palette(small, int(colors), int(kmeans_iters), float(lightness_weight),
                                  float(saturation))
    labels = _mode_filter(_lookup(lut, small), len(palette), int(region_radius))
    if labels.shape != (h, w):
        # Upscale the flat image bilinearly and look it up again: round, smooth region borders.
        up = cv2.resize(base[labels], (w, h), interpolation=cv2.INTER_LINEAR)
        labels = _lookup(lut, up)
    flat = palette[labels]
    strength = float(np.clip(edge_strength, 0.0, 1.0))
    if strength <= 0.0 or min(h, w) < 8:
        return flat
    lines = _line_mask(small, (h, w), int(line_size), float(line_sigma), float(line_threshold),
                       int(min_line_area))
    shade = 1.0 - strength * lines[..., None]
    return np.clip(flat.astype(np.float32) * shade + 0.5, 0, 255).astype(np.uint8)


def _resize_long(img: np.ndarray, long_side: int) -> np.ndarray:
    """Resize so the long side is ``long_side`` (never below 1 px); INTER_AREA when shrinking."""
    h, w = img.shape[:2]
    scale = long_side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    if size == (w, h):
        return img
    return cv2.resize(img, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)


def _palette(rgb: np.ndarray, colors: int, iters: int, l_weight: float,
             saturation: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """k-means palette in weighted Lab and a lookup table of nearest palette indices.

    Returns palette (K, 3) uint8 RGB (chroma scaled by ``saturation``), base (K, 3) uint8 RGB
    (the centres themselves) and lut (32, 32, 32) uint8 indexed by ``rgb >> 3``.
    """
    weight = np.array([l_weight, 1.0, 1.0], np.float32)
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB).reshape(-1, 3).astype(np.float32) * weight
    stride = max(1, lab.shape[0] // 4096)
    centres = _kmeans(lab[::stride], max(1, min(colors, 255)), iters)
    base_lab = centres / weight
    pal_lab = base_lab.copy()
    pal_lab[:, 1:] = 128.0 + (pal_lab[:, 1:] - 128.0) * saturation
    palette = _lab_to_rgb(pal_lab)
    base = _lab_to_rgb(base_lab)
    levels = 1 << _LUT_BITS
    step = 256 // levels
    axis = np.arange(levels, dtype=np.uint8) * step + step // 2
    grid = np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), -1).reshape(-1, 1, 3)
    grid_lab = cv2.cvtColor(grid, cv2.COLOR_RGB2LAB).reshape(-1, 3).astype(np.float32) * weight
    lut = _nearest(grid_lab, centres)
    return palette, base, lut.astype(np.uint8).reshape(levels, levels, levels)


def _lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    """(K, 3) float OpenCV-Lab (0..255 scaled) -> (K, 3) uint8 RGB."""
    lab8 = np.clip(lab + 0.5, 0, 255).astype(np.uint8)[None]
    return cv2.cvtColor(lab8, cv2.COLOR_LAB2RGB)[0]


def _lookup(lut: np.ndarray, rgb: np.ndarray) -> np.ndarray:
    """Palette index (H, W) uint8 of every pixel of an (H, W, 3) uint8 image."""
    q = rgb >> (8 - _LUT_BITS)
    return lut[q[..., 0], q[..., 1], q[..., 2]]


def _mode_filter(labels: np.ndarray, k: int, radius: int) -> np.ndarray:
    """Replace each label by the most frequent one in a (2r+1)^2 box: removes small specks."""
    if radius <= 0 or k <= 1:
        return labels
    size = (2 * radius + 1, 2 * radius + 1)
    votes = np.stack([cv2.blur((labels == i).astype(np.float32), size) for i in range(k)], 0)
    return votes.argmax(0).astype(np.uint8)


def _nearest(x: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Index of the nearest row of c (K, 3) for every row of x (M, 3) (squared L2)."""
    d = (c * c).sum(1)[None, :] - 2.0 * (x @ c.T)
    return d.argmin(1)


def _kmeans(x: np.ndarray, k: int, iters: int) -> np.ndarray:
    """Plain Lloyd k-means on (M, 3) float32 with a deterministic init.

    Init: points at evenly spaced quantiles of lightness, so dark, mid and light tones are
    all represented. Empty clusters keep their previous centre. Returns (k', 3), k' <= k
    (duplicates removed, so flat images give a tiny palette).
    """
    order = np.argsort(x[:, 0], kind="stable")
    picks = order[np.linspace(0, len(order) - 1, k).round().astype(int)]
    c = x[picks].copy()
    for _ in range(iters):
        labels = _nearest(x, c)
        sums = np.zeros_like(c)
        np.add.at(sums, labels, x)
        counts = np.bincount(labels, minlength=len(c)).astype(np.float32)
        keep = counts > 0
        c[keep] = sums[keep] / counts[keep, None]
    return np.unique(c.round(2), axis=0).astype(np.float32)


def _line_mask(smooth: np.ndarray, out_hw: tuple[int, int], size: int, sigma: float,
               threshold: float, min_area: int) -> np.ndarray:
    """Soft outline mask ``out_hw`` float32 in [0, 1] from a DoG of the smoothed luminance.

    smooth: (h, w, 3) uint8, resized so its long side is ``size`` before the DoG; sigma,
    threshold and min_area are in that resolution's pixels and grey levels.
    """
    h, w = out_hw
    work = _resize_long(smooth, size)
    grey = cv2.cvtColor(work, cv2.COLOR_RGB2GRAY).astype(np.float32)
    g1 = cv2.GaussianBlur(grey, (0, 0), sigma)
    g2 = cv2.GaussianBlur(grey, (0, 0), sigma * 1.6)
    dog = g1 - g2  # negative on the dark side of an edge and on thin dark strokes
    lines = (dog < -threshold).astype(np.uint8)
    if min_area > 1:
        _, labels, stats, _ = cv2.connectedComponentsWithStats(lines, connectivity=8)
        big = stats[:, cv2.CC_STAT_AREA] >= min_area
        big[0] = False
        lines = big[labels].astype(np.uint8)
    soft = np.clip(-dog / (2.0 * threshold), 0.0, 1.0) * lines
    soft = cv2.GaussianBlur(soft.astype(np.float32), (0, 0), 0.6)
    if soft.shape[:2] != (h, w):
        soft = cv2.resize(soft, (w, h), interpolation=cv2.INTER_LINEAR)
    return np.clip(soft, 0.0, 1.0)
