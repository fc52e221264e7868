"""One self-describing file per trained stage-2 generator: ``generator.safetensors``.

A model file (:mod:`.model_file`): the weights, the registry name of the network, its
constructor config and free-form JSON ``info`` (task, step, input normalisation, whether the net
wants a mask...). Any registered model can be rebuilt from the file alone, so ``toonforge
translate`` works on the output of every stage-2 trainer without knowing it. A generator's
forward returns the image or a tuple led by it (see :func:`generator_output`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .factory import load_model
from .model_file import read_model_meta, save_model

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = ["GENERATOR_FILE", "load_generator_file", "read_generator_meta", "save_generator_file"]

GENERATOR_FILE = "generator.safetensors"


def save_generator_file(path: str | os.PathLike[str], net: nn.Module, info: dict[str, Any] | None = None) -> Path:
    """Write ``net`` (a registered model) and ``info`` atomically."""
    return save_model(path, net, info)


def read_generator_meta(path: str | os.PathLike[str]) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(model name, config, info) of a generator file, without loading the weights."""
    meta = read_model_meta(path)
    return meta.model, meta.config, meta.info


def load_generator_file(path: str | os.PathLike[str], device: str | torch.device = "cpu"
                        ) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the generator of ``path`` in eval mode; returns (net, info)."""
    net, meta, _ = load_model(path, device=device)
    return net, meta.info
