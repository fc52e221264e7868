"""``toonforge translate``: a stage-2 generator turns a folder of photos into photo/style pairs (stage 3's data).

Unreadable photos, photos without a face (aligned crops) and stray files in OUT are listed on stderr and
skipped. Exit 0 when at least one pair was made or was already there; when every photo tried was skipped,
one line ``error: no pairs made: ...`` and exit 2. Two photos with the same stem stop the run before it starts.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..io.outputs import declare_io
from .overwrite_args import add_overwrite_arg, start_over
from .skips import report_skips
from .vocabulary import alias


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "translate", help="turn photos into photo/style pairs with a stage-2 generator",
        description="Run a trained stage-2 generator (U-GAT-IT, DCT-Net texture net, CycleGAN...) over a folder "
        "of photos. Writes OUT/photo/STEM.png (the exact network input) and OUT/style/STEM.png (its output), "
        "pixel-aligned for `toonforge train-translator --photos OUT/photo --targets OUT/style`, plus "
        "OUT/manifest.jsonl and a contact sheet OUT/sheet.png. Rerunning skips finished pairs; nothing is "
        "overwritten, and an OUT made with another model file, --size or --crop is refused (--overwrite starts again).",
    )
    p.add_argument("--model", type=Path, required=True, metavar="RUN_OR_FILE",
                   help="a run folder (best_generator.safetensors, else generator.safetensors) or a .safetensors")
    p.add_argument("--photos", dest="photos", type=Path, required=True, metavar="PHOTOS", help="folder of photos")
    p.add_argument("-o", "--output", dest="out", type=Path, required=True, metavar="PAIRS",
                   help="output folder (new, empty or ours)")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--best", dest="last", action="store_false", help="prefer best_generator (default)")
    which.add_argument("--last", dest="last", action="store_true", help="use generator.safetensors of the run")
    p.add_argument("--crop", choices=["aligned", "full", "both"], default="aligned",
                   help="aligned: largest face, FFHQ-aligned; full: whole photo mirror-padded to a square; "
                   "both: OUT/aligned/ and OUT/full/ (default aligned)")
    p.add_argument("--size", type=int, default=None, help="side of the pairs (default: the model's training size)")
    p.add_argument("--batch-size", type=int, default=8, help="images per network call (default 8)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    p.add_argument("--detector", default="dlib", help="face detector backend (default dlib)")
    p.add_argument("--limit", type=int, default=None, metavar="N", help="only the first N photos (sorted by name)")
    p.add_argument("--sheet", type=int, default=16, metavar="N", help="pairs on OUT/sheet.png (0: no sheet)")
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    add_overwrite_arg(p, "pairs (made with any model, --size or --crop)")
    alias(p, "--output", "--out")
    alias(p, "--photos", "--in")
    declare_io(p, inputs=["model", "photos"], outputs={"out": "folder"})
    p.set_defaults(func=run, last=False)


def run(args: argparse.Namespace) -> int:
    from ..pipelines.translate import translate_folder

    if args.overwrite:
        start_over(args.out)
    rep = translate_folder(args.model, args.photos, args.out, crop=args.crop, size=args.size,
                           batch_size=args.batch_size, device=args.device, limit=args.limit, sheet=args.sheet,
                           last=args.last, detector=args.detector, quiet=args.quiet)
    report_skips(rep.made, rep.already_done, rep.problems, what="pairs", inputs="photos")
    if not args.quiet:
        print(f"{rep.made} new pairs, {rep.already_done} already done, {len(rep.problems)} skipped "
              f"-> {rep.out} (model {rep.model_file})", file=sys.stderr)
        if rep.sheet:
            print(f"contact sheet: {rep.sheet}", file=sys.stderr)
    return 0
