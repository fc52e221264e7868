"""A registry of network families keyed by name, and one ``create_model`` to build them.

Every registered class records its constructor arguments in ``self.config`` (a JSON-able
dict), so ``create_model(name, **model.config)`` rebuilds the same architecture. Style
folders store exactly that pair (name, config) in their ``config.json``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from torch import nn

from ..errors import InputError

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


def _import_families() -> None:
    # Importing the family packages runs their @register_model decorators.
    from . import cyclegan, discriminators, stylegan2, translator, ugatit, unet  # noqa: F401


def list_models() -> list[str]:
    """Names of all registered network families, sorted."""
    _import_families()
    return sorted(_MODELS)


def create_model(name: str, **config: Any) -> nn.Module:
    """Build the network registered as ``name`` with constructor arguments ``config``.

    Raises InputError for an unknown name or arguments the family does not accept.
    """
    _import_families()
    if name not in _MODELS:
        raise InputError(f"unknown model {name!r}; known models: {', '.join(sorted(_MODELS))}")
    try:
        return _MODELS[name](**config)
    except (TypeError, ValueError, KeyError) as exc:  # unknown argument, tier or value
        raise InputError(f"bad config for model {name!r}: {str(exc).strip(chr(39))}") from None
