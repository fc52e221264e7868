"""Whole-pipeline time on a 1024x1024 photo with one face, and the share outside the networks.

    python benchmarks/bench_pipeline.py [--style classic] [--backend onnx] [--threads 2]

The photo is a real portrait from ../shared/data/faces/scut upscaled to 1024x1024 (or a
given --image). Network time is measured by wrapping the pipeline's runners, so the rest
(decode-free: detection, landmarks, alignment, resizing, paste-back, blending) is
total - network time; the CNN face detector's own network time (BlazeFace) is counted apart,
as a network. It is measured with the detector of before issue 32 (dlib on a 512 px
copy), the default one, and dlib at --min-face 40, in one run; then a 1920x1080 frame with
four faces against the same frame with one, with the default detector.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import cv2

from toonforge.io.images import load_image
from toonforge.pipelines import Stylizer

DEFAULT_PHOTO = Path(__file__).resolve().parents[2] / "shared" / "data" / "faces" / "scut" / "AF1554.jpg"


class TimedRunner:
    """Wraps a runner and accumulates the seconds spent inside it."""

    def __init__(self, runner, clock: list[float]) -> None:
        self.runner, self.clock, self.stride = runner, clock, runner.stride

    def __call__(self, x):
        t0 = time.perf_counter()
        y = self.runner(x)
        self.clock[0] += time.perf_counter() - t0
        return y


class TimedSession:
    """Wraps an ONNX Runtime session (the CNN face detector's) and accumulates the seconds inside ``run``."""

    def __init__(self, session, clock: list[float]) -> None:
        self.session, self.clock = session, clock

    def run(self, *a, **k):
        t0 = time.perf_counter()
        out = self.session.run(*a, **k)
        self.clock[0] += time.perf_counter() - t0
        return out


def timed(stylizer: Stylizer, rgb, repeats: int) -> tuple[float, float, float, int]:
    """Median (total, style networks, detector network) seconds of ``stylizer(rgb)``, and the faces found."""
    clock, det_clock = [0.0], [0.0]
    stylizer._runner("head"), stylizer._runner("full")
    stylizer._runners = {k: TimedRunner(getattr(r, "runner", r), clock) for k, r in stylizer._runners.items()}
    det = stylizer.detector
    if det is not None and hasattr(det, "_session"):
        det._session = TimedSession(getattr(det._session, "session", det._session), det_clock)
    faces = len(stylizer(rgb).faces)  # warm-up
    totals, nets, dets = [], [], []
    for _ in range(repeats):
        clock[0] = det_clock[0] = 0.0
        t0 = time.perf_counter()
        stylizer(rgb)
        totals.append(time.perf_counter() - t0)
        nets.append(clock[0])
        dets.append(det_clock[0])
    return statistics.median(totals), statistics.median(nets), statistics.median(dets), faces


def group_frames(photo_dir: Path) -> dict[str, object]:
    """1920x1080 frames with one face and with four (SCUT portraits, faces of 300, 240, 180, 120 px)."""
    from toonforge.evaluation.group_photos import Portrait, compose_group, reference_box
    from toonforge.face.frontend import build_detector

    dlib = build_detector("dlib", min_face=100)
    pool = []
    for path in sorted(photo_dir.glob("*.jpg"))[:12]:
        rgb = load_image(path).rgb
        box = reference_box(rgb, dlib)
        if box is not None:
            pool.append(Portrait(rgb, box))
    one = compose_group(pool[:1], [300], (1920, 1080), seed=3)
    four = compose_group(pool[:4], [300, 240, 180, 120], (1920, 1080), seed=3)
    return {"1 face": one.image, "4 faces": four.image}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--style", default="classic")
    ap.add_argument("--image", type=Path, default=DEFAULT_PHOTO)
    ap.add_argument("--backend", choices=["torch", "onnx"], default="onnx")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--default-allocator", action="store_true",
                    help="leave glibc's allocator as it is (toonforge's commands raise its thresholds: "
                         "toonforge/allocator.py)")
    args = ap.parse_args()
    if not args.default_allocator:
        from toonforge.allocator import reuse_freed_memory

        reuse_freed_memory()  # as the toonforge command line does
    from toonforge.face.frontend import DEFAULT_DETECTOR, build_detector

    rgb = cv2.resize(load_image(args.image).rgb, (1024, 1024), interpolation=cv2.INTER_CUBIC)
    # "before": dlib HOG on a copy shrunk to 512 px (the detector until issue 32), which at
    # 1024 px is a 0.5x scan, i.e. --min-face 200 in today's terms.
    detectors = {"before: dlib@512": build_detector("dlib", min_face=200),
                 f"{DEFAULT_DETECTOR} (default), --min-face 40": build_detector(DEFAULT_DETECTOR, min_face=40,
                                                                              threads=args.threads),
                 "dlib, --min-face 40": build_detector("dlib", min_face=40)}
    print(f"style {args.style}, backend {args.backend}, {args.threads} threads, 1024x1024 photo")
    shares, totals = {}, {}
    for name, det in detectors.items():
        stylizer = Stylizer(args.style, backend=args.backend, threads=args.threads, detector=det)
        total, net, det_net, faces = timed(stylizer, rgb, args.repeats)
        outside = total - net - det_net
        shares[name] = outside / total
        print(f"  {name:34s} total {total * 1e3:7.1f} ms, style networks {net * 1e3:7.1f} ms, detector network "
              f"{det_net * 1e3:6.1f} ms, outside {outside * 1e3:7.1f} ms = {100 * shares[name]:.1f}% "
              f"({100 * (total - net) / total:.1f}% counting the detector's network as outside; {faces} face(s))")
        totals[name] = total
    ref = shares["before: dlib@512"]
    for name, share in shares.items():
        print(f"  outside share, {name}: {share / ref:.2f}x of before's; total time "
              f"{totals[name] / totals['before: dlib@512']:.2f}x before's")
    frames = group_frames(args.image.parent)
    stylizer = Stylizer(args.style, backend=args.backend, threads=args.threads,
                        detector=build_detector(DEFAULT_DETECTOR, min_face=40, threads=args.threads))
    per = {}
    for name, frame in frames.items():
        total, net, det_net, faces = timed(stylizer, frame, max(3, args.repeats // 2))
        per[name] = total
        print(f"  1920x1080, {name}: total {total * 1e3:7.1f} ms, style networks {net * 1e3:7.1f} ms, "
              f"detector network {det_net * 1e3:6.1f} ms ({faces} found)")
    print(f"  4 faces / 1 face at 1080p: {per['4 faces'] / per['1 face']:.2f}x")


if __name__ == "__main__":
    main()
