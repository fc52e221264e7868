"""``--keep-colours``, shared by ``stylize`` and ``video``: how much of the photo's coarse colour
and skin tone the output keeps (``pipelines.colour``)."""

from __future__ import annotations

import argparse

__all__ = ["add_keep_colours_arg", "apply_keep_colours", "unit_interval"]


def unit_interval(name: str):
    """An argparse type: a number in [0, 1], with ``name`` in its error messages."""

    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a number in [0, 1], got {text!r}") from None
        if not 0.0 <= v <= 1.0:
            raise argparse.ArgumentTypeError(f"{name} must be in [0, 1], got {v}")
        return v

    return parse


def add_keep_colours_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--keep-colours", type=unit_interval("keep-colours"), default=None, metavar="0..1",
                   help="share of the photo's coarse colours and skin tone kept under the style's lines "
                        "(0 = the style's own colours, 1 = the photo's); default: the style's "
                        "keep_colours (see `toonforge styles`)")


def apply_keep_colours(stylizer, args: argparse.Namespace) -> None:
    """Set the stylizer's ``keep_colours`` from the flag when it was given."""
    if args.keep_colours is not None:
        stylizer.keep_colours = args.keep_colours
