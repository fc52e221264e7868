"""Whole-pipeline time on a 1024x1024 photo with one face, and the share outside the networks.

    python benchmarks/bench_pipeline.py [--style classic] [--backend onnx] [--threads 2]

The photo is a real portrait from ../shared/data/faces/scut upscaled to 1024x1024 (or a
given --image). Network time is measured by wrapping the pipeline's runners, so the rest
(decode-free: detection, landmarks, alignment, resizing, paste-back, blending) is
total - network time.
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--style", default="classic")
    ap.add_argument("--image", type=Path, default=DEFAULT_PHOTO)
    ap.add_argument("--backend", choices=["torch", "onnx"], default="onnx")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=10)
    args = ap.parse_args()
    rgb = cv2.resize(load_image(args.image).rgb, (1024, 1024), interpolation=cv2.INTER_CUBIC)
    stylizer = Stylizer(args.style, backend=args.backend, threads=args.threads)
    clock = [0.0]
    stylizer._runner("head"), stylizer._runner("full")
    stylizer._runners = {k: TimedRunner(r, clock) for k, r in stylizer._runners.items()}
    result = stylizer(rgb)  # warm-up
    faces = len(result.faces)
    totals, nets = [], []
    for _ in range(args.repeats):
        clock[0] = 0.0
        t0 = time.perf_counter()
        stylizer(rgb)
        totals.append(time.perf_counter() - t0)
        nets.append(clock[0])
    total, net = statistics.median(totals), statistics.median(nets)
    print(f"style {args.style}, backend {args.backend}, {args.threads} threads, 1024x1024, {faces} face(s)")
    print(f"  total    {total * 1e3:8.1f} ms")
    print(f"  networks {net * 1e3:8.1f} ms")
    print(f"  outside  {(total - net) * 1e3:8.1f} ms = {100 * (total - net) / total:.1f}% of the time")


if __name__ == "__main__":
    main()
