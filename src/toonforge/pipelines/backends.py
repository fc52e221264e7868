"""Which engine runs a style's networks, and the ONNX file it runs.

``auto``, the default of every command, runs a network style in ONNX Runtime on the CPU. For
the depthwise translators that ship as styles that is about twice as fast through the whole
pipeline as PyTorch (README, "Speed"). It runs PyTorch on a GPU, for filter styles, and when
ONNX Runtime is not installed. ``torch`` and ``onnx`` force one engine.

The ONNX file is the one in the style folder when it was exported from the folder's weights
(exports are stamped with :func:`~toonforge.io.checkpoints.weights_sha256`; an unstamped
file from an older export is trusted). Otherwise it is exported once into the cache folder
(``$TOONFORGE_CACHE/onnx``, default ``~/.cache/toonforge/onnx``), named by that digest.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import InputError

if TYPE_CHECKING:
    from torch import nn

    from ..styles.style import Style

BACKENDS = ("auto", "torch", "onnx")


def cache_dir() -> Path:
    """Where ONNX exports of styles without a current ``head.onnx`` go (``$TOONFORGE_CACHE/onnx``)."""
    root = os.environ.get("TOONFORGE_CACHE")
    return (Path(root) if root else Path.home() / ".cache" / "toonforge") / "onnx"


def pick_backend(requested: str, style: Style, device: str) -> str:
    """"torch" or "onnx" for a requested "auto", "torch" or "onnx" (InputError for anything else)."""
    if requested not in BACKENDS:
        raise InputError(f"unknown backend {requested!r}; use one of {', '.join(BACKENDS)}")
    if style.config.kind == "onnx":  # an imported ONNX graph runs in ONNX Runtime only
        if requested == "torch":
            raise InputError(f"style {style.name!r} is an imported ONNX graph; it runs with --backend onnx or auto")
        return "onnx"
    if requested != "auto":
        return requested
    if style.config.kind != "network" or device != "cpu":
        return "torch"
    return "onnx" if importlib.util.find_spec("onnxruntime") is not None else "torch"


def onnx_file(style: Style, role: str, net: nn.Module, notices: list[str]) -> Path:
    """The ONNX file for ``style``'s ``role`` network ``net`` (already built from the style's weights).

    The style folder's own export when it matches the weights; else a cached export, written on
    first use. A stale export in the folder is left in place and a line is added to ``notices``.
    """
    from ..export.onnx_export import export_onnx, read_weights_digest
    from ..io.checkpoints import weights_sha256

    digest = weights_sha256(net)
    own = style.onnx_path(role)
    if own is not None:
        stamped = read_weights_digest(own)
        if stamped is None or stamped == digest:
            return own
        notices.append(f"{own.name} of style {style.name!r} was exported from other weights than "
                       "model.safetensors; running a fresh export instead (re-export with `toonforge export`)")
    path = cache_dir() / f"{style.name}-{role}-{digest[:16]}.onnx"
    if not path.is_file():
        export_onnx(net, path, overwrite=True)
    return path


def say_setup_notices(stylizer, quiet: bool = False) -> None:
    """Print, on stderr, what a Stylizer had to change while loading (e.g. auto fell back to PyTorch)."""
    import sys

    if not quiet:
        for notice in stylizer.setup_notices:
            print(f"note: {notice}", file=sys.stderr)
