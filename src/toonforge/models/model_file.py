"""One file format for every network toonforge writes: safetensors weights + JSON config.

The weights are the module's ``state_dict`` under its own key names (rosinality's for StyleGAN2,
so other tools read the tensors as they are), plus any extra tensors a family keeps beside them
(``latent_avg``). The safetensors metadata says how to rebuild the module, the diffusers way:

    format            "pt" (the safetensors convention for torch tensors)
    toonforge_format  "toonforge-model-1"
    model             the registry name (``toonforge.models.factory.create_model``)
    config            JSON: the constructor's arguments, recorded by ``register_model``
    info              JSON: free-form facts (task, step, input normalisation, ...)

Files of the three earlier schemes still load: stage-2 generator files (``format`` =
"toonforge-generator-1"), StyleGAN2 files (``toonforge_model`` = "stylegan2_generator" /
"stylegan2_discriminator") and Z+ encoder files (``toonforge_model`` = "zplus_encoder").
Reading the metadata needs no torch (:func:`read_model_meta`); building the network from a file is
:func:`toonforge.models.factory.load_model`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import CheckpointError, first_line

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = ["FORMAT", "ModelMeta", "parse_model_meta", "read_model_meta", "save_model"]

FORMAT = "toonforge-model-1"
_LEGACY_GENERATOR_FORMAT = "toonforge-generator-1"
# ``toonforge_model`` values of the older StyleGAN2 / encoder files -> registry names.
_LEGACY_NAMES = {"stylegan2_generator": "stylegan2_generator",
                 "stylegan2_discriminator": "stylegan2_discriminator",
                 "zplus_encoder": "hierarchical-encoder"}


@dataclass(frozen=True)
class ModelMeta:
    """How to rebuild a network: registry name, constructor config, and free-form info."""

    model: str
    config: dict[str, Any]
    info: dict[str, Any] = field(default_factory=dict)


def _json_dict(text: str | None, what: str, key: str) -> dict[str, Any]:
    if text is None:
        return {}
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        raise CheckpointError(f"{what}: unreadable {key} in the file metadata") from None
    if not isinstance(value, dict):
        raise CheckpointError(f"{what}: the {key} in the file metadata is not a JSON object")
    return value


def parse_model_meta(meta: dict[str, str], what: str = "weights file") -> ModelMeta | None:
    """The :class:`ModelMeta` in a safetensors metadata dict (any of the four schemes), or None for
    a file that carries none (a plain state dict). A damaged entry is a one-line CheckpointError."""
    if meta.get("toonforge_format") == FORMAT or meta.get("format") == _LEGACY_GENERATOR_FORMAT:
        model = meta.get("model")
        if not isinstance(model, str) or not model:
            raise CheckpointError(f"{what}: the file metadata names no model")
        return ModelMeta(model, _json_dict(meta.get("config", "{}"), what, "config"),
                         _json_dict(meta.get("info", "{}"), what, "info"))
    legacy = meta.get("toonforge_model")
    if legacy in _LEGACY_NAMES and "config" in meta:
        return ModelMeta(_LEGACY_NAMES[legacy], _json_dict(meta["config"], what, "config"))
    return None


def _read_metadata(path: Path) -> dict[str, str]:
    from safetensors import safe_open

    if not path.is_file():
        raise CheckpointError(f"weights file not found: {path}")
    try:
        with safe_open(str(path), framework="numpy") as f:
            return dict(f.metadata() or {})
    except Exception as exc:  # noqa: BLE001  (safetensors raises several types for a damaged header)
        raise CheckpointError(f"{path} is not a readable safetensors file: {first_line(exc)}") from None


def read_model_meta(path: str | os.PathLike[str]) -> ModelMeta:
    """The :class:`ModelMeta` of a model file, without reading its weights (no torch needed)."""
    path = Path(path)
    found = parse_model_meta(_read_metadata(path), str(path))
    if found is None:
        raise CheckpointError(f"{path} is not a toonforge model file (its metadata names no model)")
    return found


def save_model(path: str | os.PathLike[str], net: nn.Module, info: dict[str, Any] | None = None, *,
               extra: dict[str, torch.Tensor] | None = None) -> Path:
    """Write ``net`` (a registered model: ``model_name`` and ``config`` set by ``register_model``)
    to a ``.safetensors`` file atomically, with ``extra`` tensors beside its state dict."""
    from safetensors.torch import save_file

    from ..io.files import atomic_output

    name, config = getattr(net, "model_name", None), getattr(net, "config", None)
    if not isinstance(name, str) or not isinstance(config, dict):
        raise TypeError(f"{type(net).__name__} is not a registered model (no model_name/config)")
    path = Path(path)
    if path.suffix.lower() != ".safetensors":
        raise CheckpointError(f"save to a .safetensors file, got {path.name}")
    meta = {"format": "pt", "toonforge_format": FORMAT, "model": name, "config": json.dumps(config),
            "info": json.dumps(info or {})}
    tensors = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    clash = sorted(set(tensors) & set(extra or {}))
    if clash:
        raise ValueError(f"extra tensors clash with the state dict: {', '.join(clash)}")
    tensors.update({k: v.detach().cpu().contiguous() for k, v in (extra or {}).items()})
    with atomic_output(path) as tmp:
        save_file(tensors, str(tmp), metadata=meta)
    return path
