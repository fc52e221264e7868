"""``toonforge eval``: measure styles on photos against style references; tables, sheet, plots."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from ..io.outputs import declare_io
from .engine_args import add_engine_args
from .vocabulary import alias


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval", help="measure styles on photos: metric table, contact sheet, training curves",
        description="Stylize every photo in --photos with each --style and measure the outputs: "
        "sharpness, FD-MNv2 and KID to the --refs style images, identity similarity and face-found "
        "rate (dlib), content distance and speed. Writes report.md, report.json, contact_sheet.png "
        "and the outputs into -o/--output; with --run, plots of training runs' curves too. Unreadable "
        "images are listed in the report and skipped.",
    )
    p.add_argument("--style", dest="styles", action="extend", nargs="+", default=[], metavar="STYLE",
                   help="style names or folders (several allowed)")
    p.add_argument("--photos", type=Path, help="folder of photos to stylize (never trained on)")
    p.add_argument("--refs", type=Path, help="folder of style references for FD and KID")
    p.add_argument("-o", "--output", dest="out", type=Path, default=Path("eval-report"),
                   help="output folder (default eval-report)")
    p.add_argument("--run", dest="runs", action="append", type=Path, default=[],
                   help="training run folder whose stats.jsonl to plot (repeatable)")
    add_measure_args(p)
    p.add_argument("--sheet-rows", type=int, default=6, help="photos shown in the contact sheet")
    p.add_argument("--no-baseline", action="store_true", help="omit the unstyled-photo row")
    p.add_argument("--no-outputs", action="store_true", help="do not save the stylized outputs")
    p.add_argument("--skin-ink", action="store_true",
                   help="also count ink strokes on smooth skin in each style's outputs (dlib 68 points) into "
                   "skin-ink.txt")
    p.add_argument("--probe-refs", type=Path, default=None,
                   help="with --probe-photos: fit a linear probe on MobileNetV2 features, these training style "
                   "images vs those training photos, and score each style's outputs with it into probe.txt")
    p.add_argument("--probe-photos", type=Path, default=None, help="training photos for --probe-refs")
    p.add_argument("--title", default="Style evaluation", help="title of the report and contact sheet")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier report in -o/--output")
    alias(p, "--output", "--out")
    declare_io(p, inputs=["style:styles", "photos", "refs", "runs", "inception_weights"], outputs={"out": "own-folder"})
    p.set_defaults(func=run)


def add_measure_args(p: argparse.ArgumentParser) -> None:
    """The flags that say how outputs are measured (shared with ``toonforge card``)."""
    p.add_argument("--size", type=int, default=256, help="long side at which outputs are measured (default 256)")
    add_engine_args(p)
    p.add_argument("--detector", default="dlib", help="face detector, or 'none' (no identity metrics)")
    p.add_argument("--features", choices=["mnv2", "inception"], default="mnv2",
                   help="feature network for the Fréchet distance (default: ImageNet MobileNetV2, 'FD-MNv2')")
    p.add_argument("--inception-weights", type=Path, default=None,
                   help="the standard FID Inception weights file (pt_inception-2015-12-05), for --features inception")
    p.add_argument("--max-photos", type=int, default=None, help="use only the first N photos")
    p.add_argument("--speed-photos", type=int, default=24, metavar="N",
                   help="after the quality pass, time the styles in turns on N photos spread over the set "
                        "(default 24; 0 leaves the images/s column empty)")
    p.add_argument("--speed-warmup", type=int, default=3, metavar="N",
                   help="untimed calls per style before the timed ones (default 3)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def check_measure_args(args: argparse.Namespace) -> None:
    from ..errors import InputError

    if not 32 <= args.size <= 4096:
        raise InputError(f"--size must be in 32..4096, got {args.size}")
    if args.speed_photos < 0 or args.speed_warmup < 0:
        raise InputError(f"--speed-photos and --speed-warmup must be >= 0, got {args.speed_photos} and "
                         f"{args.speed_warmup}")
    if args.features == "inception" and args.inception_weights is None:
        raise InputError("--features inception needs --inception-weights FILE (no weights are bundled)")


def options_from(args: argparse.Namespace, **extra):
    """EvalOptions from the parsed flags."""
    from ..evaluation.runner import EvalOptions

    return EvalOptions(
        size=args.size, backend=args.backend, device=args.device, threads=args.threads,
        detector=None if args.detector == "none" else args.detector, extractor=args.features,
        extractor_weights=args.inception_weights, max_photos=args.max_photos,
        speed_photos=args.speed_photos, speed_warmup=args.speed_warmup,
        progress=not args.quiet, **extra,
    )


def command_line(args: argparse.Namespace) -> str:
    return "toonforge " + shlex.join(getattr(args, "argv", []))


def run(args: argparse.Namespace) -> int:
    from ..errors import InputError

    if not args.styles and not args.runs:
        raise InputError("nothing to do: give --style (with --photos) and/or --run")
    if args.styles and args.photos is None:
        raise InputError("--photos is needed to evaluate styles")
    check_measure_args(args)
    if getattr(args, "skin_ink", False) and (args.no_outputs or not args.styles):
        raise InputError("--skin-ink counts strokes in the saved outputs: give --style and drop --no-outputs")
    probe = getattr(args, "probe_refs", None), getattr(args, "probe_photos", None)
    if any(probe) and (None in probe or args.no_outputs or not args.styles):
        raise InputError("the probe scores the saved outputs: give --style, both --probe-refs and --probe-photos, "
                         "and no --no-outputs")
    for folder in probe:
        if folder is not None and not folder.is_dir():
            raise InputError(f"probe folder not found: {folder}")
    if (args.out / "report.json").exists() and not args.overwrite:
        raise InputError(f"{args.out} already holds a report; pass --overwrite or choose another -o/--output")
    for run_dir in args.runs:
        if not run_dir.is_dir():
            raise InputError(f"--run: not a folder: {run_dir}")
    written = []
    if args.styles:
        from ..evaluation.runner import evaluate

        opts = options_from(args, baseline=not args.no_baseline, sheet_rows=args.sheet_rows,
                            save_outputs=not args.no_outputs)
        report = evaluate(args.styles, args.photos, args.refs, args.out, opts, title=args.title,
                          command=command_line(args))
        print(report.table_markdown())
        written += [args.out / "report.md", args.out / "report.json", args.out / "contact_sheet.png"]
        for path, err in report.skipped:
            print(f"skipped {path}: {err}", file=sys.stderr)
        if args.skin_ink:
            from ..evaluation.skin_ink import write_skin_ink

            written.append(write_skin_ink(args.photos, args.out))
        if args.probe_refs is not None:
            from ..metrics.probe import write_probe

            written.append(write_probe(args.probe_refs, args.probe_photos, args.out))
    if args.runs:
        from ..evaluation.plots import plot_run

        for run_dir in args.runs:
            name = "-".join(run_dir.resolve().parts[-2:])  # run folders are numbered per runs root
            written.append(plot_run(run_dir, args.out / "curves" / f"{name}.png"))
    print("wrote " + ", ".join(str(p) for p in written))
    return 0
