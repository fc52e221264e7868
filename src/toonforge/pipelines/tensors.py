"""Pre- and post-processing shared by every backend (PyTorch and ONNX Runtime).

Images are uint8 (H, W, 3) RGB; network arrays are float32 (N, 3, H, W) in [-1, 1].
"""

from __future__ import annotations

import numpy as np


def to_network(images: list[np.ndarray] | np.ndarray,
               value_range: tuple[float, float] = (-1.0, 1.0)) -> np.ndarray:
    """uint8 (H, W, 3) image or list of same-size images -> float32 (N, 3, H, W), 0..255 mapped
    linearly onto ``value_range`` (a style's ``value_range``; [-1, 1] for every toonforge network)."""
    lo, hi = value_range
    batch = np.stack(images) if isinstance(images, list) else images[None]
    return batch.transpose(0, 3, 1, 2).astype(np.float32) / np.float32(255.0 / (hi - lo)) + np.float32(lo)


def from_network(batch: np.ndarray, value_range: tuple[float, float] = (-1.0, 1.0)) -> list[np.ndarray]:
    """float (N, 3, H, W) in ``value_range`` -> list of uint8 (H, W, 3), rounded and clipped."""
    lo, hi = value_range
    x = np.clip((batch.transpose(0, 2, 3, 1) - lo) * (255.0 / (hi - lo)) + 0.5, 0, 255).astype(np.uint8)
    return list(x)


def pad_to_multiple(rgb: np.ndarray, multiple: int) -> tuple[np.ndarray, tuple[int, int]]:
    """Reflect-pad (H, W, 3) on the bottom/right to multiples of ``multiple``.

    Returns the padded image and the original (H, W) to crop back with ``[:H, :W]``.
    Reflection needs the image to be larger than the pad; tiny images fall back to edge
    padding.
    """
    h, w = rgb.shape[:2]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph or pw:
        mode = "reflect" if ph < h and pw < w else "edge"
        rgb = np.pad(rgb, ((0, ph), (0, pw), (0, 0)), mode=mode)
    return rgb, (h, w)


def blend(original: np.ndarray, stylized: np.ndarray, strength: float) -> np.ndarray:
    """Linear blend of two uint8 (H, W, 3) images: ``strength`` 1 = stylized, 0 = original."""
    if strength >= 1.0:
        return stylized
    if strength <= 0.0:
        return original.copy()
    out = original.astype(np.float32) * (1.0 - strength) + stylized.astype(np.float32) * strength
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)
