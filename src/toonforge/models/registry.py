"""The name -> class table of network families, filled by the families themselves.

Each family module decorates its classes with :func:`register_model`; this module imports no
family, so there is no import cycle. :mod:`toonforge.models.factory` imports every family and
builds models by name (``create_model``). Every registered class records its constructor
arguments in ``self.config`` (a JSON-able dict), so ``create_model(name, **model.config)``
rebuilds the same architecture; style folders store exactly that pair in their ``config.json``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from torch import nn

_MODELS: dict[str, type[nn.Module]] = {}
T = TypeVar("T", bound=type[nn.Module])


def register_model(name: str) -> Callable[[T], T]:
    """Class decorator: make ``cls`` buildable as ``create_model(name, **config)``."""

    def wrap(cls: T) -> T:
        if name in _MODELS and _MODELS[name] is not cls:
            raise ValueError(f"model name {name!r} is already registered")
        _MODELS[name] = cls
        cls.model_name = name  # type: ignore[attr-defined]
        return cls

    return wrap


def registered() -> dict[str, type[nn.Module]]:
    """The classes registered so far, by name (only the families imported so far)."""
    return dict(_MODELS)
