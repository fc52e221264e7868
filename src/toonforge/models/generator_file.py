"""One self-describing file per trained stage-2 generator: ``generator.safetensors``.

The weights go in a safetensors file whose metadata holds the registry name of the network,
its constructor config (JSON) and free-form JSON ``info`` (task, step, input normalisation,
whether the net wants a mask...). Any registered model can be rebuilt from the file alone, so
``toonforge translate`` works on the output of every stage-2 trainer without knowing it.
A generator's forward returns the image or a tuple led by it (see :func:`generator_output`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import CheckpointError
from ..io.checkpoints import load_into
from ..io.files import atomic_output

__all__ = ["FORMAT", "GENERATOR_FILE", "load_generator_file", "read_generator_meta",
           "save_generator_file"]

FORMAT = "toonforge-generator-1"
GENERATOR_FILE = "generator.safetensors"


def save_generator_file(path: str | os.PathLike[str], net: nn.Module, info: dict[str, Any] | None = None) -> Path:
    """Write ``net`` (a registered model with ``model_name`` and ``config``) atomically."""
    from safetensors.torch import save_file

    name, config = getattr(net, "model_name", None), getattr(net, "config", None)
    if not isinstance(name, str) or not isinstance(config, dict):
        raise TypeError(f"{type(net).__name__} is not a registered model (no model_name/config)")
    meta = {"format": FORMAT, "model": name, "config": json.dumps(config), "info": json.dumps(info or {})}
    tensors = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    path = Path(path)
    with atomic_output(path) as tmp:
        save_file(tensors, str(tmp), metadata=meta)
    return path


def read_generator_meta(path: str | os.PathLike[str]) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(model name, config, info) of a generator file, without loading the weights."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"generator file not found: {path}")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except Exception as exc:  # safetensors raises several types for a damaged header
        raise CheckpointError(f"{path} is not a readable safetensors file: {exc}") from None
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a toonforge generator file (format {meta.get('format')!r})")
    try:
        return meta["model"], json.loads(meta["config"]), json.loads(meta.get("info", "{}"))
    except (KeyError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path} has damaged generator metadata: {exc}") from None


def load_generator_file(path: str | os.PathLike[str], device: str | torch.device = "cpu"
                        ) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the generator of ``path`` in eval mode; returns (net, info)."""
    from safetensors.torch import load_file

    from .factory import create_model

    name, config, info = read_generator_meta(path)
    net = create_model(name, **config)
    load_into(net, load_file(str(path)), f"generator file {path} ({name})")
    return net.to(device).eval(), info


