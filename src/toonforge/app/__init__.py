"""The browser app (``toonforge app``): a thin Gradio layer over :mod:`toonforge.pipelines`.

``handlers`` does the request work in plain Python (no Gradio import), ``ui`` builds the
``gr.Blocks`` page. Gradio is imported only through :func:`require_gradio`, so nothing else
in toonforge pulls it in.
"""

from __future__ import annotations

import os
from types import ModuleType

from ..errors import MissingDependencyError

INSTALL_HINT = 'pip install "toonforge[app]"'
# The app refuses larger images before decoding them (the CLI default is 50 MP; a shared web
# server keeps a tighter bound on the memory one request may take).
APP_MAX_PIXELS = 25_000_000


def require_gradio() -> ModuleType:
    """Import and return ``gradio``, with analytics off (the app runs on closed networks).

    Raises:
        MissingDependencyError: Gradio is not installed (the message names the extra).
    """
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    try:
        import gradio
    except ImportError:
        raise MissingDependencyError(f"the web app needs Gradio: {INSTALL_HINT}") from None
    return gradio


__all__ = ["APP_MAX_PIXELS", "INSTALL_HINT", "require_gradio"]
