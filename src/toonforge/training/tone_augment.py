"""Dim-and-dark-skin augmentation for paired training: one random exposure and warm tint on both
images of a pair, and the random crop shared by both.

Why: a distilled student draws brown blotches on dim or dark faces when its teacher saw few
of them. Darkening the photo *and* its stylized target by the same transform shows the student
dark, warm-toned faces whose target is as clean as the bright original, so it learns to keep
them clean (the target's lines and flat areas survive a global exposure change).

What :func:`tone_shift_pair` does, exactly (both images, the same draws):
1. decode sRGB (uint8 / 255) to linear light with the sRGB curve;
2. multiply every pixel by an exposure factor ``e`` drawn uniformly in ``exposure``
   (default [0.35, 0.9]: from about 1.5 stops darker to slightly dimmer);
3. multiply the channels by a warm-brown tint ``(1, 1 - t/2, 1 - t)`` with ``t`` drawn uniformly
   in [0, ``tint``] (default 0.25): green a little and blue more lowered, as melanin and dim
   tungsten light do;
4. encode back to sRGB, round, uint8.
Highlights and white paper therefore turn a dim warm grey, blacks stay black, and hue shifts
only toward brown. Deterministic for a given ``numpy.random.Generator`` (always three draws).
"""

from __future__ import annotations

import numpy as np

from toonforge.errors import InputError

EXPOSURE = (0.35, 0.9)
TINT = 0.25


def srgb_to_linear(x: np.ndarray) -> np.ndarray:
    """sRGB values in [0, 1] -> linear light in [0, 1] (IEC 61966-2-1 curve), float32."""
    x = x.astype(np.float32)
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4).astype(np.float32)


def linear_to_srgb(x: np.ndarray) -> np.ndarray:
    """Linear light in [0, 1] -> sRGB values in [0, 1], float32 (inverse of :func:`srgb_to_linear`)."""
    x = np.clip(x, 0.0, 1.0).astype(np.float32)
    return np.where(x <= 0.0031308, x * 12.92, 1.055 * np.power(x, 1 / 2.4) - 0.055).astype(np.float32)


def draw_tone(rng: np.random.Generator, exposure: tuple[float, float] = EXPOSURE,
              tint: float = TINT) -> np.ndarray:
    """The per-channel linear-light gains (3,) of one random tone shift: ``e * (1, 1 - t/2, 1 - t)``."""
    u = rng.random(2)
    e = exposure[0] + (exposure[1] - exposure[0]) * u[0]
    t = tint * u[1]
    return np.array([e, e * (1.0 - t / 2.0), e * (1.0 - t)], np.float32)


def apply_tone(rgb: np.ndarray, gains: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 sRGB, linear-light gains (3,) -> (H, W, 3) uint8 sRGB."""
    lin = srgb_to_linear(rgb / 255.0) * gains
    return np.clip(linear_to_srgb(lin) * 255.0 + 0.5, 0, 255).astype(np.uint8)


def tone_shift_pair(inp: np.ndarray, target: np.ndarray, p: float, rng: np.random.Generator
                    ) -> tuple[np.ndarray, np.ndarray]:
    """With probability ``p``, the same random exposure and warm tint (module docstring) on both
    (H, W, 3) uint8 images; else both unchanged. Three draws from ``rng`` whatever happens."""
    apply = rng.random() < p
    gains = draw_tone(rng)
    if not apply:
        return inp, target
    return apply_tone(inp, gains), apply_tone(target, gains)


def random_crop_pair(inp: np.ndarray, target: np.ndarray, size: int, rng: np.random.Generator
                     ) -> tuple[np.ndarray, np.ndarray]:
    """The same ``size`` x ``size`` window, at a uniformly drawn place, of two (H, W, 3) images of
    one shape (two draws from ``rng``)."""
    h, w = inp.shape[:2]
    if target.shape[:2] != (h, w):
        raise InputError(f"random_crop_pair: input {inp.shape} and target {target.shape} differ in size")
    if size > min(h, w):
        raise InputError(f"--crop-size {size} is larger than the {w}x{h} training images")
    u = rng.random(2)
    top, left = int(u[0] * (h - size + 1)), int(u[1] * (w - size + 1))
    win = (slice(top, top + size), slice(left, left + size))
    return np.ascontiguousarray(inp[win]), np.ascontiguousarray(target[win])
