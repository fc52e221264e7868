"""Which engine runs a style's networks, and the ONNX file it runs.

``auto``, the default of every command, runs a network style in ONNX Runtime on the CPU. For
the depthwise translators that ship as styles that is about twice as fast through the whole
pipeline as PyTorch (README, "Speed"). It runs PyTorch on a GPU, for filter styles, and when
ONNX Runtime is not installed. ``torch`` and ``onnx`` force one engine.

The ONNX file is the one in the style folder when it was exported from the folder's weights
(exports are stamped with :func:`~toonforge.io.checkpoints.weights_sha256`, which the runtime
recomputes from ``model.safetensors`` with NumPy; an unstamped file from an older export is
trusted). Otherwise it is exported once into the cache folder (``$TOONFORGE_CACHE/onnx``,
default ``~/.cache/toonforge/onnx``), named by that digest; exporting needs PyTorch, running
does not.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import CheckpointError, InputError, ToonforgeError, first_line
from ..extras import has_module, require

if TYPE_CHECKING:
    from ..export.runtime import OnnxRunner, Runner
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
    return "onnx" if has_module("onnxruntime") else "torch"


def onnx_runner(style: Style, role: str, device: str, threads: int | None, notices: list[str]) -> OnnxRunner:
    """An ONNX Runtime runner for ``style``'s ``role`` network, without PyTorch when the style ships its graph.

    The style folder's own export when its stamp matches ``model.safetensors`` (checked with
    NumPy); else a cached export named by the weights digest, written on first use (that needs
    PyTorch: MissingDependencyError naming the extra otherwise). A stale export in the folder
    is left in place and a line is added to ``notices``.
    """
    from ..export.runtime import OnnxRunner
    from ..models.strides import model_stride

    stride = model_stride(style.spec(role).model)
    own = style.onnx_path(role)
    digest = style.weights_digest(role) if style.path is not None else None
    if own is not None:
        runner = OnnxRunner(own, device, threads, stride)
        if runner.weights_digest is None or runner.weights_digest == digest:
            return runner
        notices.append(f"{own.name} of style {style.name!r} was exported from other weights than "
                       "model.safetensors; running a fresh export instead (re-export with `toonforge export`)")
    cached = cache_dir() / f"{style.name}-{role}-{digest[:16]}.onnx" if digest else None
    if cached is None or not cached.is_file():
        require("torch", f"style {style.name!r} has no current {role} ONNX graph; exporting one")
        from ..export.onnx_export import export_onnx
        from ..io.checkpoints import weights_sha256

        net = style.build_net(role)
        cached = cache_dir() / f"{style.name}-{role}-{weights_sha256(net)[:16]}.onnx"
        if not cached.is_file():
            export_onnx(net, cached, overwrite=True)
    return OnnxRunner(cached, device, threads, stride)


def make_runner(style: Style, role: str, backend: str, requested: str, device: str, threads: int | None,
                notices: list[str]) -> tuple[Runner, str]:
    """The runner for ``style``'s ``role`` network on ``backend`` ("onnx" or "torch"), and the engine used.

    ``requested`` "auto" lets a failing ONNX graph fall back to PyTorch (with a line in
    ``notices``) where PyTorch is installed; otherwise the failure is raised as a one-line error.
    """
    if backend == "onnx":
        try:
            return onnx_runner(style, role, device, threads, notices), "onnx"
        except Exception as exc:  # an export or a session that fails: auto runs PyTorch instead
            reason = first_line(exc)
            if requested != "auto" or not has_module("torch"):
                if isinstance(exc, ToonforgeError):
                    raise
                raise CheckpointError(f"style {style.name!r} cannot run in ONNX Runtime: {reason}") from None
            notices.append(f"ONNX Runtime cannot run style {style.name!r} ({reason}); using PyTorch")
    from ..export.runtime import TorchRunner

    require("torch", "the PyTorch backend" + (f" on {device}" if device != "cpu" else ""))
    return TorchRunner(style.build_net(role), device), "torch"


def say_setup_notices(stylizer, quiet: bool = False) -> None:
    """Print, on stderr, what a Stylizer had to change while loading (e.g. auto fell back to PyTorch)."""
    import sys

    if not quiet:
        for notice in stylizer.setup_notices:
            print(f"note: {notice}", file=sys.stderr)
