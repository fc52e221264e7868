"""``--detector`` and ``--min-face``, shared by the commands that stylize (stylize, video)."""

from __future__ import annotations

import argparse

from ..face.frontend import DEFAULT_DETECTOR, DEFAULT_MIN_FACE

__all__ = ["add_detector_args"]


def _min_face(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"min face must be an integer number of pixels, got {text!r}") from None
    if not 8 <= v <= 4096:
        raise argparse.ArgumentTypeError(f"min face must be in 8..4096 pixels, got {v}")
    return v


def add_detector_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--detector", default=DEFAULT_DETECTOR,
                   help=f"face detector: blazeface (MediaPipe's CNN in ONNX Runtime, fast), dlib (HOG), "
                        f"or none (default {DEFAULT_DETECTOR}; docs/face-detection.md compares them)")
    p.add_argument("--min-face", type=_min_face, default=DEFAULT_MIN_FACE,
                   help=f"smallest face to stylize, in pixels of the input (brows to chin); smaller faces "
                        f"that are found are reported, not stylized (default {DEFAULT_MIN_FACE})")
