"""Build any registered network by name: ``create_model(name, **config)``.

Importing this module imports every family package, whose decorators fill the registry
(:mod:`toonforge.models.registry`); a new family is added to the import list below.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from ..errors import InputError
from . import cyclegan, discriminators, encoders, stylegan2, translator, ugatit, unet  # noqa: F401 (registers)
from .registry import registered

__all__ = ["create_model", "list_models"]


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
    except TypeError as exc:
        raise InputError(f"bad config for model {name!r}: {exc}") from None
