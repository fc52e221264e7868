"""Paired augmentation: one random geometric transform for input and target, colour on input.

Used by the paired (stage-3) trainer and by DCT-Net-style geometry expansion. Pure numpy/cv2
on uint8 images, deterministic for a given ``numpy.random.Generator``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from toonforge.errors import InputError


@dataclass
class AugmentConfig:
    """Augmentation ranges.

    flip: horizontal flip with probability 0.5.
    scale: (min, max) zoom factor, drawn uniformly.
    rotate_deg: rotation drawn uniformly in [-rotate_deg, rotate_deg] degrees.
    translate: shift drawn uniformly in [-translate, translate] as a fraction of width/height.
    color_jitter: brightness, contrast and saturation factors drawn in [1 - j, 1 + j]; applied
        to the INPUT only (the target's colours are the style's and must not change).
    p_color: probability of applying the colour jitter.
    """

    flip: bool = True
    scale: tuple[float, float] = (0.9, 1.1)
    rotate_deg: float = 10.0
    translate: float = 0.05
    color_jitter: float = 0.1
    p_color: float = 0.5


@dataclass(frozen=True)
class _Geometry:
    flip: bool
    scale: float
    angle_deg: float
    shift: tuple[float, float]  # fraction of (width, height)

    def is_identity(self) -> bool:
        return (not self.flip and self.scale == 1.0 and self.angle_deg == 0.0
                and self.shift == (0.0, 0.0))

    def matrix(self, w: int, h: int) -> np.ndarray:
        """2x3 affine matrix (output <- input convention of cv2.warpAffine) for a w x h image.

        Flip about the centre, then rotate and scale about the centre, then shift.
        """
        cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
        a = math.radians(self.angle_deg)
        cos, sin = math.cos(a) * self.scale, math.sin(a) * self.scale
        fx = -1.0 if self.flip else 1.0
        # x' = R S F (x - c) + c + t
        m = np.array([[cos * fx, sin, 0.0], [-sin * fx, cos, 0.0]], np.float64)
        c = np.array([cx, cy])
        m[:, 2] = c - m[:, :2] @ c + np.array([self.shift[0] * w, self.shift[1] * h])
        return m


def _draw_geometry(cfg: AugmentConfig, rng: np.random.Generator) -> _Geometry:
    # Always draw the same number of values so a config change does not shift later draws.
    u = rng.random(4)
    flip = bool(cfg.flip and u[0] < 0.5)
    lo, hi = cfg.scale
    scale = float(lo + (hi - lo) * u[1])
    angle = float(cfg.rotate_deg * (2.0 * u[2] - 1.0))
    t = rng.random(2)
    shift = (float(cfg.translate * (2.0 * t[0] - 1.0)), float(cfg.translate * (2.0 * t[1] - 1.0)))
    return _Geometry(flip, scale, angle, shift)


def _warp(img: np.ndarray, geo: _Geometry) -> np.ndarray:
    h, w = img.shape[:2]
    if geo.is_identity():
        return img.copy()
    if geo.angle_deg == 0.0 and geo.scale == 1.0 and geo.shift == (0.0, 0.0):
        return np.ascontiguousarray(img[:, ::-1])
    return cv2.warpAffine(img, geo.matrix(w, h), (w, h), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REFLECT_101)


def jitter_color(rgb: np.ndarray, amount: float, rng: np.random.Generator) -> np.ndarray:
    """Random brightness, contrast and saturation factors in [1 - amount, 1 + amount].

    rgb: (H, W, 3) uint8. Returns a new (H, W, 3) uint8 array.
    """
    b, c, s = 1.0 + amount * (2.0 * rng.random(3) - 1.0)
    x = rgb.astype(np.float32) * b
    grey = x @ np.array([0.299, 0.587, 0.114], np.float32)
    x = (x - grey.mean()) * c + grey.mean()
    grey = (x @ np.array([0.299, 0.587, 0.114], np.float32))[..., None]
    x = grey + (x - grey) * s
    return np.clip(x + 0.5, 0, 255).astype(np.uint8)


def augment_pair(inp: np.ndarray, target: np.ndarray, cfg: AugmentConfig,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Augment an (input, target) pair of (H, W, 3) uint8 RGB images.

    The same random affine (flip, scale, rotation, shift; BORDER_REFLECT_101, bilinear) is
    applied to both, expressed relative to each image's size, so pairs of different sizes stay
    aligned. With probability ``cfg.p_color`` the input alone gets colour jitter.
    Returns new (H, W, 3) uint8 arrays of the original shapes. Deterministic given ``rng``.
    """
    for name, img in (("input", inp), ("target", target)):
        if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
            raise InputError(f"augment_pair: {name} must be (H, W, 3) uint8, got "
                             f"{img.shape} {img.dtype}")
    geo = _draw_geometry(cfg, rng)
    out_in, out_t = _warp(inp, geo), _warp(target, geo)
    apply_color = rng.random() < cfg.p_color
    if cfg.color_jitter > 0 and apply_color:
        out_in = jitter_color(out_in, cfg.color_jitter, rng)
    return out_in, out_t
