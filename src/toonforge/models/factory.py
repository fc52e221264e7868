"""Build any registered network by name (``create_model(name, **config)``) or from a model file
(``load_model(path)``, the format of :mod:`.model_file`).

Importing this module imports every family package, whose decorators fill the registry
(:mod:`toonforge.models.registry`); a new family is added to the import list below.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import CheckpointError, InputError, first_line
from ..io.checkpoints import load_into
from . import (  # noqa: F401 (importing a family registers its models)
    animegan,
    cyclegan,
    discriminators,
    encoders,
    faceswap,
    stylegan2,
    translator,
    twingan,
    ugatit,
    unet,
)
from .model_file import ModelMeta, read_model_meta
from .registry import registered

__all__ = ["create_model", "list_models", "load_kind", "load_model"]


def list_models() -> list[str]:
    """Names of all registered network families, sorted."""
    return sorted(registered())


def create_model(name: str, **config: Any) -> nn.Module:
    """Build the network registered as ``name`` with constructor arguments ``config``.

    Raises InputError for an unknown name or arguments the family does not accept.
    """
    models = registered()
    if name not in models:
        raise InputError(f"unknown model {name!r}; known models: {', '.join(sorted(models))}")
    try:
        return models[name](**config)
    except (TypeError, ValueError, KeyError) as exc:  # unknown argument, tier or value
        raise InputError(f"bad config for model {name!r}: {str(exc).strip(chr(39))}") from None


def load_model(path: str | os.PathLike[str], *, device: str | torch.device = "cpu", expect: str | None = None,
               extra: tuple[str, ...] = ()) -> tuple[nn.Module, ModelMeta, dict[str, torch.Tensor]]:
    """Rebuild the network of a model file in eval mode on ``device``.

    ``expect``: the registry name the caller needs (another is a one-line CheckpointError).
    ``extra``: names of tensors kept beside the state dict, returned apart (absent ones are left out).
    Returns (net, meta, extra tensors).
    """
    from safetensors.torch import load_file

    path = Path(path)
    meta = read_model_meta(path)
    if expect is not None and meta.model != expect:
        raise CheckpointError(f"{path.name} holds a {meta.model}, not a {expect}")
    try:
        net = create_model(meta.model, **meta.config)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{path.name}: bad {meta.model} config: {first_line(exc)}") from None
    try:
        state = load_file(str(path))
    except Exception as exc:  # noqa: BLE001
        raise CheckpointError(f"cannot load {path.name}: {first_line(exc)}") from None
    extras = {k: state.pop(k) for k in extra if k in state}
    load_into(net, state, f"{path.name} ({meta.model})")
    return net.to(device).eval(), meta, extras


def load_kind(path: str | os.PathLike[str], model: str, what: str) -> tuple[nn.Module, ModelMeta]:
    """The ``model`` network of a model file, for a command that takes one kind: a missing file,
    a file that is no model file and one of another model are each one line naming ``what``
    (e.g. "face-swap model"). Returns (net in eval mode, meta)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{what} not found: {path}")
    try:
        found = read_model_meta(path).model
    except CheckpointError:
        found = None
    if found != model:
        raise CheckpointError(f"{path.name} is not a toonforge {what}")
    net, meta, _ = load_model(path, expect=model)
    return net, meta
