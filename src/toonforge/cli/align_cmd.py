"""``toonforge align``: a folder of portraits -> square, FFHQ-aligned training crops.

Exit 0 when at least one crop was written or was already there; inputs without a face and unreadable
files are listed on stderr. When every input was skipped: one line ``error: no crops made: ...``, exit 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..io.outputs import declare_io
from .overwrite_args import add_overwrite_arg, start_over
from .skips import report_skips
from .vocabulary import alias, positional_input


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "align", help="crop and align the faces of a folder of portraits for training",
        description="Write OUT/STEM.png for each image of IN: the largest face, aligned as the stylizer "
        "aligns faces (--crop aligned), or the whole image mirror-padded to a square (--crop full). "
        "Use it on a style's photos and references before train-dctnet / train-ugatit, so that the "
        "model learns on the crops it will see. Rerunning resumes; nothing in OUT is overwritten "
        "(--overwrite starts again).",
    )
    positional_input(p, "photos", "--in", type=Path, metavar="IN", help="folder of images")
    p.add_argument("-o", "--output", dest="out", type=Path, required=True,
                   help="output folder (created; existing crops are kept)")
    p.add_argument("--size", type=int, default=256, help="side of the crops in pixels (default 256)")
    p.add_argument("--crop", choices=["aligned", "full"], default="aligned", help="default aligned")
    p.add_argument("--detector", default="dlib", help="face detector backend (default dlib)")
    p.add_argument("--limit", type=int, default=None, metavar="N", help="only the first N images (by name)")
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    add_overwrite_arg(p, "crops")
    alias(p, "--output", "--out")
    declare_io(p, inputs=["photos"], outputs={"out": "folder"})
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..pipelines.align_folder import align_folder

    if args.overwrite:
        start_over(args.out)
    rep = align_folder(args.photos, args.out, size=args.size, crop=args.crop, detector=args.detector,
                       limit=args.limit, quiet=args.quiet)
    report_skips(rep.made, rep.already_done, rep.problems, what="crops", inputs="images")
    if not args.quiet:
        print(f"{rep.made} new crops, {rep.already_done} already there, {len(rep.problems)} skipped -> {rep.out}",
              file=sys.stderr)
    return 0
