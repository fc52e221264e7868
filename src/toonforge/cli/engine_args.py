"""The flags that choose what runs a style's networks, shared by stylize, video, app and eval."""

from __future__ import annotations

import argparse

from ..pipelines.backends import BACKENDS, say_setup_notices

__all__ = ["add_engine_args", "positive_int", "say_setup_notices"]


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1 (threads, pixel limits, counts)."""
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {v}")
    return v


def add_engine_args(p: argparse.ArgumentParser) -> None:
    """``--backend``, ``--device`` and ``--threads``."""
    p.add_argument("--backend", choices=BACKENDS, default="auto",
                   help="auto (default): ONNX Runtime for network styles on the CPU, which is the fast path "
                        "(see the README's speed section), PyTorch otherwise; torch or onnx force one")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default cpu; cuda runs PyTorch under auto)")
    p.add_argument("--threads", type=positive_int, default=None, help="ONNX Runtime threads (default: all cores)")
