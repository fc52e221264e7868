"""``toonforge video``: a video in, a stylized video out, with its sound."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..io.outputs import declare_io
from .colour_args import add_keep_colours_arg, apply_keep_colours
from .detector_args import add_detector_args
from .detector_args import int_in_range as _positive
from .engine_args import add_engine_args, say_setup_notices
from .mix_args import add_style_args, style_and_mix
from .stylize_cmd import _strength
from .vocabulary import alias


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "video", help="stylize a video (faces tracked and smoothed, audio kept)",
        description="Stylize every frame of a video. Frame rate, frame count, rotation and the audio "
        "stream are kept; the output is H.264 (yuv420p) written atomically, never over the input.")
    p.add_argument("input", type=Path, metavar="IN", help="input video file")
    p.add_argument("-o", "--output", type=Path, required=True, help="output video file (.mp4, .m4v, .mov, .mkv)")
    add_style_args(p)
    p.add_argument("--strength", type=_strength, default=1.0, help="0 = input, 1 = full style (default 1)")
    add_keep_colours_arg(p)
    p.add_argument("--still-networks", action="store_true",
                   help="run the style's own networks even where it names a lighter video student "
                        "(classic names classic-lite, cartoon names cartoon-lite: 1.1-1.3x and 1.5-1.7x the frames "
                        "per second on 720p)")
    p.add_argument("--head-only", action="store_true",
                   help="write a square video of the largest face's stylized, aligned crop")
    p.add_argument("--size", dest="head_size", type=_positive("head size", 16, 4096), default=None,
                   help="side of the head-only video (default: the style's head resolution)")
    add_engine_args(p)
    add_detector_args(p)
    p.add_argument("--batch-size", type=_positive("batch size", 1, 256), default=8, help="frames per network call")
    p.add_argument("--no-smoothing", action="store_true", help="use raw per-frame detections (no tracking)")
    p.add_argument("--detect-every", type=_positive("detect every", 1, 1000), default=25,
                   help="frames between full-frame face scans; faces are tracked in between, and a new face "
                        "appears within this many frames (1: scan every frame; default 25)")
    p.add_argument("--overwrite", action="store_true", help="replace the output if it exists")
    p.add_argument("--quiet", action="store_true", help="no progress bar or notices")
    alias(p, "--size", "--head-size")
    declare_io(p, inputs=["input", "style:style"], outputs={"output": "file"})
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ..face.frontend import build_detector
    from ..io.video import check_output, probe_video
    from ..pipelines.stylizer import Stylizer
    from ..pipelines.video import stylize_video, video_style

    # Cheap checks first, so bad input fails before any model loads.
    style, mix = style_and_mix(args)
    info = probe_video(args.input)
    check_output(args.output, src=args.input, overwrite=args.overwrite)
    style, student_note = video_style(style, still=args.still_networks, mix=mix)
    if student_note:
        student_note += " (--still-networks: the style's own networks)"
    detector = build_detector(args.detector, min_face=args.min_face, threads=args.threads)
    stylizer = Stylizer(style, backend=args.backend, device=args.device, detector=detector,
                        threads=args.threads, mix=mix)
    apply_keep_colours(stylizer, args)
    say_setup_notices(stylizer, args.quiet)
    bar = tqdm(total=info.frame_count, unit="frame", disable=args.quiet, file=sys.stderr, dynamic_ncols=True)

    def progress(done: int, total: int | None) -> None:
        bar.update(done - bar.n)

    try:
        report = stylize_video(args.input, args.output, stylizer, strength=args.strength, head_only=args.head_only,
                               head_size=args.head_size, batch_size=args.batch_size, overwrite=args.overwrite,
                               smoothing=not args.no_smoothing, progress=progress, detect_every=args.detect_every)
    finally:
        bar.close()
    if not args.quiet:
        for notice in ([student_note] if student_note else []) + report.notices:
            print(f"{args.input}: {notice}", file=sys.stderr)
    audio = "audio copied" if report.audio_copied else ("audio re-encoded" if info.has_audio else "no audio")
    print(f"wrote {report.path}: {report.frames} frames at {float(report.fps):.3f} fps, "
          f"{report.frames_with_faces} with faces, {report.processing_fps:.1f} frames/s processing, {audio}")
    return 0
