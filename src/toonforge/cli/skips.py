"""How batch commands (``translate``, ``align``) end when some inputs had to be skipped."""

from __future__ import annotations

import sys
from pathlib import Path

from ..errors import InputError


def report_skips(made: int, already_done: int, problems: list[tuple[str, str]], *, what: str,
                 inputs: str) -> None:
    """InputError ``no WHAT made: all N INPUTS were skipped (first: ...)`` when every input tried was
    skipped; otherwise list each skipped input on stderr (also under --quiet: they are missing from
    the output)."""
    if not made and not already_done and problems:
        first_src, first_why = problems[0]
        raise InputError(f"no {what} made: all {len(problems)} {inputs} were skipped "
                         f"(first: {Path(first_src).name}: {first_why})")
    for src, why in problems:
        print(f"skipped {src}: {why}", file=sys.stderr)
