"""Video throughput: frames per second of ``stylize_video`` on a 720p clip with one face.

    python benchmarks/bench_video.py [--style classic] [--frames 60] [--threads 2] [--repeats 2] [--detect-every 25,10]

The clip is synthetic: 1280x720 at 25 fps with a mono AAC track, a real portrait from
../shared/data/faces/scut (or a smooth random picture when absent) scaled to 400 px high and
drifting slowly across a soft background. Each configuration runs the whole pipeline (decode,
detection + tracking, batched networks, paste-back, encode, audio copy), interleaved with the
others so machine noise hits all alike:

* before: dlib HOG on a 512 px copy of every frame (what ``toonforge video`` did before the
  face front end of issue 32), the reference of the speed-up ratios;
* blazeface with a full scan every ``--detect-every`` frames (each value given; the first is
  the default of ``toonforge video``) and landmark tracking between, running the style's video
  student where its config names one (``classic`` -> ``classic-lite``, ``cartoon`` ->
  ``cartoon-lite``) as ``toonforge video`` does; the same with the style's own networks
  (``--still-networks``); dlib at --min-face 40;
* no detection (the full-image network only, the video networks: separates the faces' cost);
* copy: no networks, no detection (strength 0): decode + encode alone, the floor;
* ``--tree LABEL=PATH`` (repeatable): another source tree's ``src`` (e.g. ``git archive`` of an
  older commit), run in a worker process with that tree on its ``PYTHONPATH``, with that tree's
  own defaults of ``toonforge video`` (its default detector and scan interval), interleaved with
  the rest: the same clip, the same minutes, a different pipeline.

All run the style in ONNX Runtime with ``--threads`` threads.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import av
import cv2
import numpy as np
import onnxruntime

from toonforge.io.images import load_image
from toonforge.metrics.speed import time_interleaved
from toonforge.pipelines import Stylizer
from toonforge.pipelines.video import stylize_video

DEFAULT_PHOTO = Path(__file__).resolve().parents[2] / "shared" / "data" / "faces" / "scut" / "AF1554.jpg"


def make_clip(path: Path, photo: Path, frames: int, size=(1280, 720), fps: int = 25) -> str:
    """Write the test clip; returns a description of the face source."""
    w, h = size
    if photo.is_file():
        face, what = load_image(photo).rgb, photo.name
    else:
        rng = np.random.default_rng(0)
        face = cv2.resize(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8), (350, 350), interpolation=cv2.INTER_CUBIC)
        what = "synthetic picture (no photo found: detection finds no face)"
    fh = 400
    face = cv2.resize(face, (round(face.shape[1] * fh / face.shape[0]), fh), interpolation=cv2.INTER_CUBIC)
    yy, xx = np.mgrid[0:h, 0:w]
    background = np.stack([60 + 80 * xx / w, 90 + 60 * yy / h, 140 + 0 * xx], -1).astype(np.uint8)
    with av.open(str(path), "w") as out:
        v = out.add_stream("libx264", rate=fps, options={"crf": "20", "preset": "veryfast"})
        v.width, v.height, v.pix_fmt = w, h, "yuv420p"
        a = out.add_stream("aac", rate=16000)
        a.layout = "mono"
        for i in range(frames):
            img = background.copy()
            x0 = int(200 + 300 * i / max(frames - 1, 1))  # ~5 px per frame to the right
            y0 = (h - fh) // 2
            img[y0:y0 + fh, x0:x0 + face.shape[1]] = face
            f = av.VideoFrame.from_ndarray(img, format="rgb24")
            f.pts = i
            out.mux(v.encode(f))
        out.mux(v.encode())
        n = int(16000 * frames / fps)
        wave = (0.2 * np.sin(np.arange(n) * 2 * np.pi * 220 / 16000)).astype(np.float32)
        for k in range(0, n, 1024):
            af = av.AudioFrame.from_ndarray(wave[None, k:k + 1024], format="fltp", layout="mono")
            af.sample_rate, af.pts = 16000, k
            out.mux(a.encode(af))
        out.mux(a.encode())
    return what


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--style", default="classic")
    ap.add_argument("--image", type=Path, default=DEFAULT_PHOTO)
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--detect-every", default="25,10",
                    help="frames between full face scans, comma-separated (the first is the video default)")
    ap.add_argument("--front-end-only", action="store_true",
                    help="time only the face finding (detection + tracking) per frame, before vs now")
    ap.add_argument("--tree", action="append", default=[], metavar="LABEL=PATH",
                    help="also time another tree's src folder with its own video defaults (repeatable)")
    ap.add_argument("--worker", nargs=2, metavar=("CLIP", "OUT"), help=argparse.SUPPRESS)
    ap.add_argument("--default-allocator", action="store_true",
                    help="leave glibc's allocator as it is (toonforge's commands raise its thresholds: "
                         "toonforge/allocator.py)")
    args = ap.parse_args()
    if args.worker:
        return worker(args)
    if not args.default_allocator:
        from toonforge.allocator import reuse_freed_memory

        reuse_freed_memory()  # as the toonforge command line does
    work = Path(tempfile.mkdtemp(prefix="bench-video-"))
    try:
        run_all(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def worker(args: argparse.Namespace) -> None:
    """Run this process's toonforge (from PYTHONPATH) with its video defaults once per 'run' line on stdin."""
    try:  # as that tree's command line does (trees from before the allocator module lack it)
        from toonforge.allocator import reuse_freed_memory
    except ImportError:
        pass
    else:
        if not args.default_allocator:
            reuse_freed_memory()
    try:  # that tree's choice of networks for a video (trees from before video students lack it)
        from toonforge.pipelines.video import video_style
    except ImportError:
        style = args.style
    else:
        style = video_style(args.style)[0]
    stylizer = Stylizer(style, backend="onnx", threads=args.threads)
    for line in sys.stdin:
        if line.strip() != "run":
            break
        report = stylize_video(args.worker[0], args.worker[1], stylizer, overwrite=True, batch_size=args.batch_size)
        print(report.frames_with_faces, flush=True)


class TreeWorker:
    """A worker process running another source tree; calling it stylizes the clip once there."""

    def __init__(self, src: str, clip: Path, out: Path, args: argparse.Namespace) -> None:
        env = dict(os.environ, PYTHONPATH=str(Path(src).resolve()))
        cmd = [sys.executable, str(Path(__file__).resolve()), "--style", args.style, "--threads", str(args.threads),
               "--batch-size", str(args.batch_size), "--worker", str(clip), str(out)] \
            + (["--default-allocator"] if args.default_allocator else [])
        self.proc = subprocess.Popen(cmd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.faces = 0

    def __call__(self) -> None:
        self.proc.stdin.write("run\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit("error: a --tree worker stopped")
        self.faces = int(line)

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def front_end_only(src: Path, everies: list[int], repeats: int, threads: int) -> None:
    """ms per frame of face finding alone (detection + tracking + smoothing) on the decoded clip."""
    from toonforge.face.frontend import build_detector
    from toonforge.face.tracking import FaceTracker, IntervalFaceFinder
    from toonforge.io.video import read_frames

    frames = list(read_frames(src))
    makers = {"before: dlib@512, every frame": (lambda: build_detector("dlib", min_face=250), 1)}
    for n in everies:
        makers[f"blazeface, scan every {n}"] = (lambda: build_detector("blazeface", min_face=40, threads=threads), n)
    detectors = {name: (make(), n) for name, (make, n) in makers.items()}

    def job(name: str):
        det, n = detectors[name]

        def run() -> None:
            finder = IntervalFaceFinder(det, n, FaceTracker())
            for i, rgb in enumerate(frames):
                finder(rgb, i / 25)

        return run

    times = time_interleaved({k: job(k) for k in detectors}, repeats=repeats, warmup=1)
    ref = times["before: dlib@512, every frame"]
    for name, sec in times.items():
        print(f"  face finding alone, {name:30s} {1e3 * sec / len(frames):6.1f} ms/frame  "
              f"({ref / sec:.2f}x before's speed)")


def run_all(args: argparse.Namespace, work: Path) -> None:
    src = work / "clip720p.mp4"
    what = make_clip(src, args.image, args.frames)
    if args.front_end_only:
        front_end_only(src, [int(v) for v in args.detect_every.split(",")], args.repeats, args.threads)
        return

    from toonforge.face.frontend import build_detector
    from toonforge.pipelines.video import video_style  # (a --tree worker may run a tree without it)

    # "before": what `toonforge video` did until the face front end changed (dlib HOG on a copy
    # shrunk to 512 px, i.e. faces of ~250 px and up in a 1280-wide frame, on every frame).
    before = build_detector("dlib", min_face=250)
    everies = [int(v) for v in args.detect_every.split(",")]
    video, student = video_style(args.style)  # what `toonforge video --style STYLE` runs (student: a remark)
    default = f"onnx + blazeface, scan every {everies[0]}"
    ours = [default, f"{default}, --still-networks"]
    stylizers = {
        "before: onnx + dlib@512, every frame": (Stylizer(args.style, backend="onnx", detector=before,
                                                          threads=args.threads), 1.0, 1),
        **{f"onnx + blazeface, scan every {n}": (Stylizer(
            video, backend="onnx", detector="blazeface", threads=args.threads), 1.0, n) for n in everies},
        **({ours[1]: (Stylizer(args.style, backend="onnx", detector="blazeface", threads=args.threads), 1.0,
                      everies[0])} if student else {}),
        f"onnx + dlib --min-face 40, scan every {everies[0]}": (Stylizer(
            args.style, backend="onnx", detector="dlib", threads=args.threads), 1.0, everies[0]),
        "onnx, no detection": (Stylizer(video, backend="onnx", detector=None, threads=args.threads), 1.0, 1),
        "copy (decode + encode)": (Stylizer(args.style, backend="onnx", detector=None, threads=args.threads), 0.0, 1),
    }
    faces: dict[str, int] = {}

    def job(name: str):
        stylizer, strength, every = stylizers[name]

        def run() -> None:
            report = stylize_video(src, work / "out.mp4", stylizer, strength=strength, overwrite=True,
                                   batch_size=args.batch_size, detect_every=every)
            faces[name] = report.frames_with_faces

        return run

    jobs = {k: job(k) for k in stylizers}
    trees = {}
    for spec in args.tree:
        label, _, path = spec.partition("=")
        trees[f"tree {label}: its video defaults"] = TreeWorker(path, src, work / f"out-{len(trees)}.mp4", args)
    jobs.update(trees)
    try:
        times = time_interleaved(jobs, repeats=args.repeats, warmup=1)
    finally:
        for w in trees.values():
            w.close()
    faces.update({k: w.faces for k, w in trees.items()})
    print(f"style {args.style} (video networks: {video.name}), 1280x720, {args.frames} frames, face from {what}, "
          f"{args.threads} threads, "
          f"batch {args.batch_size}, onnxruntime {onnxruntime.__version__}")
    for name, sec in times.items():
        print(f"  {name:24s} {args.frames / sec:6.2f} frames/s   ({faces[name]}/{args.frames} frames with a face)")
    ref = times["before: onnx + dlib@512, every frame"]
    for name, sec in times.items():
        if not name.startswith("before"):
            print(f"  speed-up of '{name}' over before: {ref / sec:.2f}x")
    for name in trees:
        for mine in (m for m in ours if m in times):
            print(f"  speed-up of '{mine}' (this tree) over '{name}': {times[name] / times[mine]:.2f}x")
    no_det = times["onnx, no detection"]
    print(f"  '{ours[0]}': faces (detection, landmarks, tracking, head network, paste-back) add "
          f"{1e3 * (times[ours[0]] - no_det) / args.frames:.1f} ms per frame (partly hidden behind the networks)")


if __name__ == "__main__":
    main()
