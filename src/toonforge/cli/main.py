"""The ``toonforge`` command: one argparse app with a subcommand per job.

Errors a user can fix print one line ``error: ...`` and exit 2; internal failures print one
line and exit 1 (set ``TOONFORGE_DEBUG=1`` to see the traceback).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from .. import __version__
from ..errors import ToonforgeError
from . import (
    align_cmd,
    app_cmd,
    blend_cmd,
    card_cmd,
    clean_pairs_cmd,
    edit_cmd,
    eval_cmd,
    export_cmd,
    invert_cmd,
    reshape_cmd,
    run_transfer_cmd,
    sample_cmd,
    styles_cmd,
    stylize_cmd,
    train_cmd,
    train_cyclegan_cmd,
    train_dctnet_cmd,
    train_encoder_cmd,
    train_stylegan_cmd,
    train_ugatit_cmd,
    translate_cmd,
    video_cmd,
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # usage errors: one line, exit 2
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="toonforge", description="Stylize portraits, and forge new styles.")
    parser.add_argument("--version", action="version", version=f"toonforge {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for module in (stylize_cmd, video_cmd, styles_cmd, export_cmd, train_cmd, eval_cmd, card_cmd, app_cmd,
                   blend_cmd, sample_cmd, train_stylegan_cmd, invert_cmd, edit_cmd,
                   train_encoder_cmd, translate_cmd, train_ugatit_cmd, train_dctnet_cmd, train_cyclegan_cmd,
                   align_cmd, run_transfer_cmd, reshape_cmd, clean_pairs_cmd):
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # recorded in reports and cards
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        from ..io.outputs import guard  # the output-safety layer (each command declares its paths)

        with guard(args):
            return int(args.func(args) or 0)
    except ToonforgeError as exc:  # one line, even when a file name holds a newline
        print("error: " + str(exc).replace("\r", "\\r").replace("\n", "\\n"), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print("error: out of memory (try a smaller --size or fewer images at once)", file=sys.stderr)
        return 1
    except Exception as exc:  # internal failure: one line unless debugging
        if os.environ.get("TOONFORGE_DEBUG"):
            raise
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        print(f"error: internal failure ({type(exc).__name__}: {msg}); "
              "rerun with TOONFORGE_DEBUG=1 for details", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
