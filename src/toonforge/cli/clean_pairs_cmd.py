"""``toonforge clean-pairs``: remove a teacher's ink strokes from the skin of its pair targets."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..io.outputs import declare_io
from .overwrite_args import add_overwrite_arg, start_over
from .vocabulary import alias, positional_input


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "clean-pairs", help="remove ink strokes on smooth skin from a teacher's pairs",
        description="Read PAIRS/photo and PAIRS/style (from `toonforge translate`) and write OUT/photo "
        "(links to the photos) and OUT/style: the targets with dark strokes narrower than --stroke-width "
        "closed over on the skin between brows and chin, away from eyes, brows, nostrils, mouth and the "
        "face's outline (dlib landmarks of each photo). Distil from OUT to get a student that leaves "
        "those strokes out. Rerunning resumes; PAIRS is never changed.",
    )
    positional_input(p, "pairs", "--pairs", type=Path, metavar="PAIRS",
                     help="folder with photo/ and style/ (aligned, square)")
    p.add_argument("-o", "--output", dest="out", type=Path, required=True, help="output folder for the cleaned pairs")
    p.add_argument("--stroke-width", type=int, default=7,
                   help="widest stroke removed, in pixels (odd, default 7 at 256 px)")
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    add_overwrite_arg(p, "cleaned pairs")
    alias(p, "--output", "--out")
    declare_io(p, inputs=["pairs"], outputs={"out": "folder"})
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..training.stroke_cleanup import clean_pairs

    if args.overwrite:
        start_over(args.out)
    rep = clean_pairs(args.pairs, args.out, width=args.stroke_width, progress=not args.quiet)
    if not args.quiet:
        print(f"{rep.written} targets cleaned, {rep.skipped} already there, {len(rep.no_face)} without a face "
              f"(copied unchanged) -> {args.out}", file=sys.stderr)
    return 0
