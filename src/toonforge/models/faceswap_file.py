"""Face-swap models on disk: a model file (:mod:`.model_file`) holding a :class:`~.faceswap.FaceSwapAE`."""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from .faceswap import FaceSwapAE
from .factory import load_kind
from .model_file import save_model

__all__ = ["load_faceswap", "save_faceswap"]


def save_faceswap(path: str | Path, net: FaceSwapAE, info: dict | None = None) -> Path:
    """Write the model (weights, config with the identity names, JSON ``info``) as a model file, atomically."""
    path = Path(path)
    if path.suffix.lower() != ".safetensors":
        raise InputError(f"save the face-swap model as a .safetensors file, got {path.name}")
    return save_model(path, net, info)


def load_faceswap(path: str | Path) -> tuple[FaceSwapAE, dict]:
    """(model in eval mode, info) from :func:`save_faceswap`'s file; one-line CheckpointError otherwise."""
    net, meta = load_kind(path, "faceswap_ae", "face-swap model")
    return net, meta.info
