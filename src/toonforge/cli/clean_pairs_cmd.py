"""``toonforge clean-pairs``: remove a teacher's ink strokes from the skin of its pair targets."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..io.outputs import declare_io


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "clean-pairs", help="remove ink strokes on smooth skin from a teacher's pairs",
        description="Read PAIRS/photo and PAIRS/style (from `toonforge translate`) and write OUT/photo "
        "(links to the photos) and OUT/style: the targets with dark strokes narrower than --stroke-width "
        "closed over on the skin between brows and chin, away from eyes, brows, nostrils, mouth and the "
        "face's outline (dlib landmarks of each photo). Distil from OUT to get a student that leaves "
        "those strokes out. Rerunning resumes; PAIRS is never changed.",
    )
    p.add_argument("--pairs", type=Path, required=True, help="folder with photo/ and style/ (aligned, square)")
    p.add_argument("--out", type=Path, required=True, help="output folder for the cleaned pairs")
    p.add_argument("--stroke-width", type=int, default=7,
                   help="widest stroke removed, in pixels (odd, default 7 at 256 px)")
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    declare_io(p, inputs=["pairs"], outputs={"out": "folder"})
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..training.stroke_cleanup import clean_pairs

    rep = clean_pairs(args.pairs, args.out, width=args.stroke_width, progress=not args.quiet)
    if not args.quiet:
        print(f"{rep.written} targets cleaned, {rep.skipped} already there, {len(rep.no_face)} without a face "
              f"(copied unchanged) -> {args.out}", file=sys.stderr)
    return 0
