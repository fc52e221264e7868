"""Face detector interface and a registry of backends, keyed by name.

A backend is any callable taking an ``(H, W, 3)`` ``uint8`` RGB image and returning a list of
:class:`~toonforge.face.types.Face`, largest first. Backends register a factory with
:func:`register_detector`; built-in backends live in their own modules and are imported only
when asked for, so importing this module never imports dlib.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Protocol, TypeVar, runtime_checkable

import numpy as np

from toonforge.errors import InputError
from toonforge.face.types import Face

__all__ = ["FaceDetector", "available_detectors", "create_detector", "register_detector"]


@runtime_checkable
class FaceDetector(Protocol):
    """Finds faces in one image."""

    def __call__(self, rgb: np.ndarray) -> list[Face]:
        """Detect faces.

        Args:
            rgb: ``(H, W, 3)`` ``uint8`` RGB image.

        Returns:
            Faces in image pixel coordinates, sorted by box area, largest first; empty when
            there is none.
        """
        ...


_Factory = TypeVar("_Factory", bound=Callable[..., FaceDetector])

_REGISTRY: dict[str, Callable[..., FaceDetector]] = {}
# Built-in backends: name -> module that registers it on import.
_BUILTIN: dict[str, str] = {"dlib": "toonforge.face.dlib_backend", "blazeface": "toonforge.face.blazeface"}


def register_detector(name: str) -> Callable[[_Factory], _Factory]:
    """Class/function decorator that makes a detector factory available under ``name``."""

    def decorate(factory: _Factory) -> _Factory:
        if name in _REGISTRY and _REGISTRY[name] is not factory:
            raise ValueError(f"a face detector named {name!r} is already registered")
        _REGISTRY[name] = factory
        return factory

    return decorate


def _load_builtin(name: str) -> None:
    module = _BUILTIN.get(name)
    if module is not None and name not in _REGISTRY:
        loaded = importlib.import_module(module)
        if name not in _REGISTRY:  # imported before the registry was replaced (tests): register again
            importlib.reload(loaded)


def available_detectors() -> list[str]:
    """Names accepted by :func:`create_detector`, sorted."""
    for name in _BUILTIN:
        _load_builtin(name)
    return sorted(_REGISTRY)


def create_detector(name: str = "dlib", **kwargs: object) -> FaceDetector:
    """Build the detector registered as ``name`` with backend-specific keyword arguments.

    Raises:
        InputError: no detector has that name (the message lists the available ones).
        MissingDependencyError: the backend's library or model file is not installed.
    """
    _load_builtin(name)
    factory = _REGISTRY.get(name)
    if factory is None:
        names = ", ".join(available_detectors())
        raise InputError(f"unknown face detector '{name}' (available: {names})")
    return factory(**kwargs)
