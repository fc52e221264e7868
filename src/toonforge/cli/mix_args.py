"""``--style`` and ``--mix``, shared by ``stylize`` and ``video``: which style, and for a multi-style
model which mix of its styles (``styles.multi``)."""

from __future__ import annotations

import argparse

from ..errors import InputError

__all__ = ["DEFAULT_STYLE", "MULTI_STYLE", "add_style_args", "style_and_mix"]

DEFAULT_STYLE = "classic"
MULTI_STYLE = "multi"  # the shipped multi-style model that ``--mix`` alone uses


def add_style_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--style", default=None,
                   help=f"style name or folder (see `toonforge styles`); default: {DEFAULT_STYLE}, or with "
                        f"--mix the shipped multi-style model {MULTI_STYLE!r}")
    p.add_argument("--mix", default=None, metavar="NAME=W,...",
                   help="blend the styles of a multi-style model, e.g. --mix anime=0.7,cartoon=0.3 "
                        "(non-negative weights, normalised to sum 1; the head and full-image networks and "
                        "each style's own settings all follow the mix)")


def style_and_mix(args: argparse.Namespace) -> tuple[str, dict[str, float] | None]:
    """The style to load and the parsed (not yet checked) mix; one-line InputError for a bad ``--mix``
    or a ``--mix`` without ``--style`` when no multi-style model is installed."""
    from ..styles.multi import parse_mix
    from ..styles.registry import available_styles

    mix = parse_mix(args.mix) if args.mix is not None else None
    if args.style is not None:
        return args.style, mix
    if mix is None:
        return DEFAULT_STYLE, None
    if MULTI_STYLE not in available_styles():
        raise InputError(f"--mix without --style needs the multi-style model {MULTI_STYLE!r}, which is not "
                         "installed; name one with --style FOLDER (a multi-style model is trained with "
                         "`toonforge distill` on several teachers)")
    return MULTI_STYLE, mix
