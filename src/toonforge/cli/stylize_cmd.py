"""``toonforge stylize``: photos or folders in, stylized images out."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import InputError
from ..io.images import DEFAULT_MAX_PIXELS, load_image, save_image
from ..io.outputs import declare_io
from .colour_args import add_keep_colours_arg, apply_keep_colours, unit_interval
from .detector_args import add_detector_args
from .engine_args import add_engine_args, positive_int, say_setup_notices
from .messages import summary_line
from .mix_args import add_style_args, style_and_mix

_strength = unit_interval("strength")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("stylize", help="stylize photos (files or folders)",
                       description="Stylize portrait photos. Folders are processed in batch; "
                       "outputs already written are skipped, inputs are never overwritten.")
    p.add_argument("inputs", nargs="+", type=Path, metavar="INPUT", help="image files or folders")
    p.add_argument("-o", "--output", type=Path, required=True,
                   help="output folder (or an image path when there is one input file)")
    add_style_args(p)
    p.add_argument("--head-only", action="store_true", help="write only the aligned, stylized faces")
    p.add_argument("--strength", type=_strength, default=1.0, help="0 = input, 1 = full style (default 1)")
    add_keep_colours_arg(p)
    p.add_argument("--size", type=int, default=None,
                   help="output long side (head-only: face crop side); default: input size / head resolution")
    add_engine_args(p)
    add_detector_args(p)
    p.add_argument("--format", default=None,
                   help="output format (png, jpg, jpeg, webp, bmp); default: the input's, png for GIF and TIFF")
    p.add_argument("--recursive", action="store_true", help="descend into sub-folders")
    p.add_argument("--overwrite", action="store_true", help="redo outputs that already exist")
    p.add_argument("--max-pixels", type=positive_int, default=DEFAULT_MAX_PIXELS,
                   help=f"refuse larger images (default {DEFAULT_MAX_PIXELS})")
    p.add_argument("--quiet", action="store_true", help="no progress bar or notices")
    declare_io(p, inputs=["inputs", "style:style"], outputs={"output": "auto"})
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ..face.frontend import build_detector
    from ..pipelines.batch import head_path, is_done, plan_jobs
    from ..pipelines.stylizer import Stylizer

    style, mix = style_and_mix(args)  # a bad --mix fails before anything loads
    jobs = plan_jobs(args.inputs, args.output, fmt=args.format, recursive=args.recursive)
    todo = [j for j in jobs if args.overwrite or not is_done(j, args.head_only)]
    say = (lambda m: None) if args.quiet else (lambda m: tqdm.write(m, file=sys.stderr))
    if len(todo) < len(jobs):
        say(f"skipping {len(jobs) - len(todo)} already written (use --overwrite to redo)")
    if not todo:
        return 0
    detector = build_detector(args.detector, min_face=args.min_face, threads=args.threads)
    stylizer = Stylizer(style, backend=args.backend, device=args.device, detector=detector,
                        threads=args.threads, mix=mix)
    apply_keep_colours(stylizer, args)
    say_setup_notices(stylizer, args.quiet)
    failures = written = faces = 0
    bar = tqdm(todo, unit="img", disable=args.quiet or len(todo) == 1, file=sys.stderr)
    for job in bar:
        bar.set_postfix_str(job.src.name)
        try:
            image = load_image(job.src, max_pixels=args.max_pixels)
            result = stylizer(image, strength=args.strength, head_only=args.head_only, size=args.size)
            if args.head_only and not result.heads:  # one message: the error, not a notice too
                raise InputError(f"no face found in {job.src}; nothing written (drop --head-only)")
            for notice in result.notices:
                say(f"{job.src}: {notice}")
            if args.head_only:
                alphas = result.head_alphas or [None] * len(result.heads)
                for i, (head, alpha) in enumerate(zip(result.heads, alphas)):
                    save_image(head_path(job.dst, i), head, alpha, overwrite=args.overwrite)
                written += len(result.heads)
            else:
                save_image(job.dst, result.image, result.alpha, overwrite=args.overwrite)
                written += 1
            faces += len(result.faces)
        except InputError as exc:
            if len(jobs) == 1:
                raise
            failures += 1
            say(f"error: {exc}")
    if not args.quiet:
        print(summary_line(written, faces, args.output))
    if failures:
        print(f"error: {failures} of {len(todo)} images failed (see messages above)", file=sys.stderr)
        return 2
    return 0
