"""Running a ``toonforge`` subcommand in this process, as a stage does.

The trainers, ``translate``, ``align``, ``eval`` and ``card`` each check their options and build
their task in their CLI module; a stage hands them the words a user would type, so a recipe's
``options`` mean exactly what the command's ``--help`` says. Nothing is shelled out.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence

from ..errors import InputError, ToonforgeError


def parse_command(argv: Sequence[str]):
    """The parsed namespace of ``toonforge ARGV``; a usage error is an :class:`InputError` naming
    the command (argparse's own message, one line)."""
    from ..cli.main import build_parser

    words = [str(a) for a in argv]
    parser = build_parser(words[0], load_all=False)
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            args = parser.parse_args(words)
    except SystemExit:
        message = err.getvalue().strip().splitlines()
        text = message[-1] if message else "bad options"
        raise InputError(f"toonforge {words[0]}: {text.removeprefix('error: ')}") from None
    args.argv = words
    return args


def run_command(argv: Sequence[str]) -> None:
    """Run ``toonforge ARGV`` in this process; a non-zero exit is a :class:`ToonforgeError` (its
    errors propagate as they are)."""
    args = parse_command(argv)
    code = int(args.func(args) or 0)
    if code:
        raise ToonforgeError(f"toonforge {argv[0]} exited with code {code}")
