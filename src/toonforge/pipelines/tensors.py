"""Pre- and post-processing shared by every backend (PyTorch and ONNX Runtime).

Images are uint8 (H, W, 3) RGB; network arrays are float32 (N, 3, H, W) in [-1, 1].
"""

from __future__ import annotations

import cv2
import numpy as np


def to_network(images: list[np.ndarray] | np.ndarray,
               value_range: tuple[float, float] = (-1.0, 1.0)) -> np.ndarray:
    """uint8 (H, W, 3) image or list of same-size images -> float32 (N, 3, H, W), 0..255 mapped
    linearly onto ``value_range`` (a style's ``value_range``; [-1, 1] for every toonforge network).

    Each channel plane is scaled by OpenCV straight into its place in the batch (one pass; a
    NumPy transpose, cast and scale took 4x as long)."""
    lo, hi = value_range
    images = images if isinstance(images, list) else [images]
    h, w = images[0].shape[:2]
    out = np.empty((len(images), 3, h, w), np.float32)
    k = (hi - lo) / 255.0
    for n, img in enumerate(images):
        if img.shape != (h, w, 3):
            raise ValueError(f"to_network needs same-size (H, W, 3) images, got {img.shape} and {(h, w, 3)}")
        for c, plane in enumerate(cv2.split(img)):
            cv2.addWeighted(plane, k, plane, 0.0, lo, dst=out[n, c], dtype=cv2.CV_32F)
    return out


def from_network(batch: np.ndarray, value_range: tuple[float, float] = (-1.0, 1.0)) -> list[np.ndarray]:
    """float (N, 3, H, W) in ``value_range`` -> list of uint8 (H, W, 3), rounded (half to even)
    and saturated, each plane in one OpenCV pass.

    The images are C-contiguous: the rest of the pipeline (OpenCV warps and filters, float
    copies) runs several times slower on a transposed view."""
    lo, hi = value_range
    k = 255.0 / (hi - lo)
    batch = np.ascontiguousarray(batch, dtype=np.float32)
    return [cv2.merge([cv2.addWeighted(p, k, p, 0.0, -lo * k, dtype=cv2.CV_8U) for p in img]) for img in batch]


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
