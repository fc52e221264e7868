"""``toonforge faceswap-video``: swap the faces of a video into one identity of a trained face swap."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..io.outputs import declare_io


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "faceswap-video", help="swap every face of a video into an identity of a train-faceswap model",
        description="Decode the video, detect and track its faces (landmark smoothing), draw each aligned face "
        "with the --to identity's decoder, match its colours and paste it back through a feathered mask. Frame "
        "rate, frame count and audio are kept; the output is H.264 (yuv420p), written atomically.",
    )
    p.add_argument("model", type=Path, metavar="MODEL", help="face-swap model (RUN/faceswap.safetensors)")
    p.add_argument("input", type=Path, metavar="VIDEO", help="input video")
    p.add_argument("-o", "--output", type=Path, required=True, help="output video (.mp4, .m4v, .mov, .mkv)")
    p.add_argument("--to", default=None, help="identity to draw the faces as (default: the model's second)")
    p.add_argument("--colour-match", action=argparse.BooleanOptionalAction, default=True,
                   help="match the drawn face's colours to the frame's (default on)")
    p.add_argument("--head-only", action="store_true", help="write the swapped aligned face crops only")
    p.add_argument("--detector", default="dlib", help="face detector backend (default dlib)")
    p.add_argument("--batch-size", type=int, default=8, help="frames per network call (default 8)")
    p.add_argument("--no-smoothing", action="store_true", help="raw per-frame detections (no tracking)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    p.add_argument("--overwrite", action="store_true", help="replace the output if it exists")
    p.add_argument("--quiet", action="store_true", help="no summary")
    declare_io(p, inputs=["model", "input"], outputs={"output": "file"})
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..io.video import check_output, probe_video
    from ..pipelines.faceswap import FaceSwapper
    from ..pipelines.video import stylize_video

    probe_video(args.input)  # cheap checks before any model loads
    check_output(args.output, src=args.input, overwrite=args.overwrite)
    swapper = FaceSwapper(args.model, 1 if args.to is None else args.to, detector=args.detector,
                          colour_match=args.colour_match, device=args.device)
    report = stylize_video(args.input, args.output, swapper, head_only=args.head_only, batch_size=args.batch_size,
                           overwrite=args.overwrite, smoothing=not args.no_smoothing)
    if not args.quiet:
        for notice in report.notices:
            print(f"{args.input}: {notice}", file=sys.stderr)
        print(f"wrote {report.path}: {report.frames} frames, {report.frames_with_faces} with faces, "
              f"{report.processing_fps:.1f} frames/s", file=sys.stderr)
    return 0
