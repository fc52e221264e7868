"""``--detector`` and ``--min-face``, shared by the commands that stylize (stylize, video)."""

from __future__ import annotations

import argparse

from ..face.frontend import DEFAULT_DETECTOR, DEFAULT_MIN_FACE

__all__ = ["add_detector_args", "int_in_range"]


def int_in_range(name: str, lo: int, hi: int):
    """An argparse type: an integer in ``lo..hi``, with a message naming ``name`` otherwise."""

    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be an integer, got {text!r}") from None
        if not lo <= v <= hi:
            raise argparse.ArgumentTypeError(f"{name} must be in {lo}..{hi}, got {v}")
        return v

    return parse


def add_detector_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--detector", default=DEFAULT_DETECTOR,
                   help=f"face detector: blazeface (MediaPipe's CNN in ONNX Runtime, fast), dlib (HOG), "
                        f"or none (default {DEFAULT_DETECTOR}; docs/face-detection.md compares them)")
    p.add_argument("--min-face", type=int_in_range("min face (pixels)", 8, 4096), default=DEFAULT_MIN_FACE,
                   help=f"smallest face to stylize, in pixels of the input (brows to chin); smaller faces "
                        f"that are found are reported, not stylized (default {DEFAULT_MIN_FACE})")
