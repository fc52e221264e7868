"""Which optional extra provides which package, and one message for a missing one.

``pip install toonforge`` is the runtime (ONNX Runtime, NumPy, OpenCV, Pillow, dlib, PyAV);
PyTorch, the exporter and the training stack come with ``toonforge[train]``, the HTTP service
with ``toonforge[serve]``, Ray with ``toonforge[ray]``, the browser app with ``toonforge[app]``.
"""

from __future__ import annotations

import importlib.util

from .errors import MissingDependencyError

# top-level module -> the extra that installs it
EXTRA_OF_MODULE = {
    "torch": "train",
    "onnx": "train",
    "tensorboard": "train",
    "matplotlib": "eval",
    "gradio": "app",
    "fastapi": "serve",
    "starlette": "serve",
    "uvicorn": "serve",
    "multipart": "serve",
    "python_multipart": "serve",
    "prometheus_client": "serve",
    "ray": "ray",
}


def missing_message(module: str, what: str | None = None) -> str | None:
    """The one-line reason for a missing ``module`` that an extra provides, or None if none does."""
    root = module.split(".")[0]
    extra = EXTRA_OF_MODULE.get(root)
    if extra is None:
        return None
    need = f"{what} needs" if what else "this needs"
    return f"{need} {root}, which is not installed: pip install 'toonforge[{extra}]'"


def has_module(name: str) -> bool:
    """Whether ``name`` can be imported (without importing it)."""
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a parent missing, or a module set to None in sys.modules
        return False


def require(module: str, what: str) -> None:
    """Raise MissingDependencyError naming the extra unless ``module`` can be imported."""
    if not has_module(module):
        raise MissingDependencyError(missing_message(module, what) or f"{what} needs {module}, which is not installed")
