"""The forge functions the shell recipes still call (examples/lib/production_line.sh):
``python -m toonforge.forge.shell_steps STEP ARGS...``; errors are one ``error:`` line, exit 2."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import ToonforgeError


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m toonforge.forge.shell_steps", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("link-split", help="hash split (seed 0) of image folders into two folders of links")
    p.add_argument("fraction", type=float, help="the held-out fraction")
    p.add_argument("train", type=Path, help="folder for the training links")
    p.add_argument("held", type=Path, help="folder for the held-out links")
    p.add_argument("sources", type=Path, nargs="+", help="image folders")
    p = sub.add_parser("reached", help="exit 0 when RUN has its generator and logged STEP")
    p.add_argument("run", help="run folder ('' for none)")
    p.add_argument("step", type=int, help="the step")
    p = sub.add_parser("teacher-style", help="a stage-2 teacher as a style folder (eval only)")
    p.add_argument("teacher", type=Path, help="run folder or generator file")
    p.add_argument("out", type=Path, help="the style folder")
    p.add_argument("name", help="the style's name")
    p = sub.add_parser("fit-reshape", help="choose a face reshape by FD on validation photos")
    for name in ("style", "fit", "pairs", "raw_photos", "refs"):
        p.add_argument(name, type=Path, help=name.replace("_", " "))
    p.add_argument("candidates", nargs="+", help='"NAME FLAGS..." for toonforge reshape')
    p.add_argument("--val-fraction", type=float, default=0.05, help="the student's validation fraction")
    p.add_argument("--seed", type=int, default=1, help="the student's seed")
    args = ap.parse_args(argv)
    try:
        if args.command == "link-split":
            from .splits import link_split

            train, held = link_split(args.fraction, args.train, args.held, args.sources)
            print(f"{train} train, {held} held out: {args.train}, {args.held}")
        elif args.command == "reached":
            from .runs import reached

            return 0 if args.run and reached(Path(args.run), args.step) else 1
        elif args.command == "teacher-style":
            from .stages import write_teacher_style

            write_teacher_style(args.teacher, args.out, args.name)
        else:
            from .reshape_fit import fit_reshape

            fit_reshape(args.style, args.fit, args.pairs, args.raw_photos, args.refs, args.candidates,
                        val_fraction=args.val_fraction, seed=args.seed)
    except ToonforgeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
