"""The ``--allow-pickle`` option shared by every command that reads a generator or a discriminator."""

from __future__ import annotations

import argparse


def add_allow_pickle(p: argparse.ArgumentParser) -> None:
    """Add ``--allow-pickle`` (``args.allow_pickle``, default off) to ``p``."""
    p.add_argument(
        "--allow-pickle", action="store_true",
        help="accept NVlabs .pkl snapshots (read by a restricted unpickler that runs none of their code; "
        "still only for files you trust). Default: refuse .pkl files",
    )
