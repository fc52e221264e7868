"""``--overwrite`` for commands that resume into their output folder (align, translate).

Such a command keeps what an earlier run wrote and adds the rest; ``--overwrite`` makes it start
again instead, after the output-safety layer has checked that the folder is toonforge's.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from ..io.outputs import MARKER, check_overwrite


def add_overwrite_arg(p: argparse.ArgumentParser, what: str) -> None:
    """``--overwrite``: discard ``what`` an earlier run left in the output folder and start again."""
    p.add_argument("--overwrite", action="store_true",
                   help=f"start again: delete the {what} an earlier toonforge run left in the output folder "
                   "(refused for a folder toonforge did not write)")


def start_over(folder: Path) -> None:
    """Empty ``folder`` (keeping it and its toonforge marker) when it holds an earlier run's output.

    Refuses (InputError) a folder toonforge did not write. A kill midway leaves part of the old
    output, which the next ``--overwrite`` run deletes.
    """
    folder = Path(folder)
    if not folder.is_dir() or folder.is_symlink():
        return
    check_overwrite(folder)
    for child in sorted(folder.iterdir(), key=lambda c: c.suffix != ".jsonl"):  # manifests first
        if child.name == MARKER:
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
