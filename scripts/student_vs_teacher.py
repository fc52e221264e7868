"""A distilled student against its teacher through the whole stylize pipeline, on held-out photos.

    python scripts/student_vs_teacher.py classic classic-lite --work /tmp/distill-work \
        --photos /tmp/distill-photos [--sheet docs/classic-lite/student-vs-teacher.jpg] [--flicker]

The held-out photos are the ones ``toonforge distill`` kept out of the pairs (``WORK/split.json``).
Both styles see the same faces (the teacher's detector runs once per photo). Prints the mean and
worst PSNR of the student's output against the teacher's, the mean absolute difference (0-255),
and, for scale, the PSNR of the unstyled photo against the teacher's output; ``--sheet`` writes
photo | teacher | student rows for every ``--every``-th held-out photo. ``--flicker`` also runs
both through ``stylize_video`` on ``benchmarks/bench_video.py``'s 720p clip (50 frames) and
prints the mean absolute change between consecutive frames (0-255) of the input and each output,
and the PSNR between the two videos.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from toonforge.io.images import load_image, resize_rgb, save_image
from toonforge.metrics.psnr import psnr
from toonforge.pipelines import Stylizer


def flicker(teacher: Stylizer, student: Stylizer) -> None:
    """Frame-to-frame change of the bench clip, its teacher's and its student's videos."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from bench_video import DEFAULT_PHOTO, make_clip

    from toonforge.io.video import read_frames
    from toonforge.metrics.flicker import mean_abs_frame_difference
    from toonforge.pipelines.video import stylize_video

    with tempfile.TemporaryDirectory() as work:
        clip = Path(work) / "clip.mp4"
        make_clip(clip, DEFAULT_PHOTO, 50)
        videos = {"input": list(read_frames(clip))}
        for label, st in (("teacher", teacher), ("student", student)):
            stylize_video(clip, Path(work) / f"{label}.mp4", st)
            videos[label] = list(read_frames(Path(work) / f"{label}.mp4"))
    changes = ", ".join(f"{k} {mean_abs_frame_difference(v):.2f}" for k, v in videos.items())
    print(f"mean frame-to-frame change: {changes}; PSNR student vs teacher video "
          f"{psnr(np.stack(videos['teacher']), np.stack(videos['student'])):.2f} dB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("teacher")
    ap.add_argument("student")
    ap.add_argument("--work", type=Path, required=True, help="the distill work folder (its split.json)")
    ap.add_argument("--photos", type=Path, required=True, help="the --photos folder the distill run used")
    ap.add_argument("--sheet", type=Path, help="write a contact sheet here")
    ap.add_argument("--every", type=int, default=35, help="sheet: every N-th held-out photo (default 35)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--flicker", action="store_true", help="also compare the two on the 720p bench clip")
    args = ap.parse_args()
    held = set(json.loads((args.work / "split.json").read_text())["heldout"])
    photos = sorted(p for p in args.photos.iterdir() if p.stem in held)
    if not photos:
        raise SystemExit(f"error: no held-out photos of {args.work / 'split.json'} in {args.photos}")
    teacher = Stylizer(args.teacher, backend="onnx", threads=args.threads)
    student = Stylizer(args.student, backend="onnx", threads=args.threads, detector=None)
    scores, rows = [], []
    for i, path in enumerate(photos):
        rgb = load_image(path).rgb
        faces = teacher.detector(rgb) if teacher.detector is not None else []
        t, s = teacher(rgb, faces=faces).image, student(rgb, faces=faces).image
        scores.append((psnr(t, s), psnr(t, rgb), float(np.abs(t.astype(int) - s).mean())))
        if args.sheet and i % args.every == 0:
            rows.append(np.hstack([resize_rgb(im, (256, 256)) for im in (rgb, t, s)]))
    r = np.array(scores)
    print(f"{len(photos)} held-out photos: {args.student} vs {args.teacher} PSNR {r[:, 0].mean():.2f} dB "
          f"(worst {r[:, 0].min():.2f}), mean absolute difference {r[:, 2].mean():.2f} of 255; "
          f"the unstyled photo vs {args.teacher}: {r[:, 1].mean():.2f} dB")
    if args.sheet:
        args.sheet.parent.mkdir(parents=True, exist_ok=True)
        save_image(args.sheet, np.vstack(rows), quality=88, overwrite=True)
        print(f"wrote {args.sheet} (photo | {args.teacher} | {args.student})")
    if args.flicker:
        flicker(teacher, Stylizer(args.student, backend="onnx", threads=args.threads))


if __name__ == "__main__":
    main()
