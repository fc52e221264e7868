"""Sharpness at 1:1 of a large photo's output, guided upsampling against plain interpolation.

    python benchmarks/bench_fullres.py [--style classic] [--size 4000x3000] [--repeats 2]

There is no large real photo in ../shared/data, so the photo is built (and the build is part of
what is measured, say so when quoting): a real SCUT portrait upscaled so the face is about a
third of the frame's height, on a background of real selfies tiled at their own size (real
1:1 texture: hair, fabric, rooms), with the grain a camera adds (Gaussian, sigma 3 levels).

For each upsampling mode it reports the mean |Laplacian| (``metrics.sharpness``) of the
whole output, of the pasted head (the face box) and of the frame outside it, their ratio
guided / bilinear, the time of both modes as a ratio measured in this run, and the peak of
Python-tracked memory (NumPy arrays) above the input.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
from pathlib import Path

import cv2
import numpy as np

from toonforge.io.images import load_image
from toonforge.metrics.sharpness import laplacian_sharpness
from toonforge.pipelines import Stylizer

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "faces"


def build_photo(width: int, height: int, seed: int = 0) -> np.ndarray:
    """(height, width, 3) uint8: an upscaled real face on a 1:1 tiling of real selfies."""
    rng = np.random.default_rng(seed)
    selfies = sorted((DATA / "selfie2anime").glob("*.jpg"))
    canvas = np.zeros((height, width, 3), np.uint8)
    for y in range(0, height, 256):
        for x in range(0, width, 256):
            tile = load_image(selfies[int(rng.integers(len(selfies)))]).rgb
            canvas[y:y + 256, x:x + 256] = tile[:min(256, height - y), :min(256, width - x)]
    face = load_image(DATA / "scut" / "AF1554.jpg").rgb
    side = height // 2
    face = cv2.resize(face, (side, side), interpolation=cv2.INTER_CUBIC)
    y0, x0 = (height - side) // 2, (width - side) // 2
    canvas[y0:y0 + side, x0:x0 + side] = face
    grain = rng.normal(0.0, 3.0, canvas.shape).astype(np.float32)
    return np.clip(canvas + grain, 0, 255).astype(np.uint8)


def region_scores(out: np.ndarray, box) -> tuple[float, float, float]:
    x0, y0, x1, y1 = (int(v) for v in box)
    head = out[y0:y1, x0:x1]
    frame = out.copy()
    frame[y0:y1, x0:x1] = 0
    whole = laplacian_sharpness(out)
    # Frame outside the face: the mean over all pixels minus the face region's share.
    n_all, n_head = out.shape[0] * out.shape[1], head.shape[0] * head.shape[1]
    outside = (whole * n_all - laplacian_sharpness(head) * n_head) / (n_all - n_head)
    return whole, laplacian_sharpness(head), outside


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--style", default="classic")
    ap.add_argument("--size", default="4000x3000", help="WIDTHxHEIGHT of the built photo")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--save", type=Path, default=None, help="folder for 1:1 crops of both outputs")
    args = ap.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))
    rgb = build_photo(width, height)
    stylizer = Stylizer(args.style, threads=2)
    faces = stylizer.detector(rgb)
    print(f"photo {width}x{height}, style {args.style}, faces found: {len(faces)}")
    box = faces[0].box if faces else (0, 0, 1, 1)
    rows, times = {}, {}
    for mode in ("bilinear", "guided"):
        stylizer.upsample = mode
        out = stylizer(rgb, faces=faces).image  # warm-up and the measured output
        t = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            stylizer(rgb, faces=faces)
            t.append(time.perf_counter() - t0)
        tracemalloc.start()
        stylizer(rgb, faces=faces)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        times[mode] = min(t)
        rows[mode] = region_scores(out, box) + (peak / 2**20,)
        if args.save:
            args.save.mkdir(parents=True, exist_ok=True)
            cy, cx = int((box[1] + box[3]) / 2), int(box[2])
            crop = out[cy - 256:cy + 256, cx - 256:cx + 256]
            cv2.imwrite(str(args.save / f"{args.style}_{mode}_1to1.png"), crop[:, :, ::-1])
    print(f"{'mode':10s} {'whole':>8s} {'head':>8s} {'frame':>8s} {'peak MiB':>9s}")
    print(f"{'(photo)':10s} " + " ".join(f"{v:8.3f}" for v in region_scores(rgb, box)))
    for mode, (whole, head, frame, peak) in rows.items():
        print(f"{mode:10s} {whole:8.3f} {head:8.3f} {frame:8.3f} {peak:9.0f}")
    g, b = rows["guided"], rows["bilinear"]
    print(f"sharpness ratio guided/bilinear: whole {g[0] / b[0]:.2f}, head {g[1] / b[1]:.2f}, "
          f"frame {g[2] / b[2]:.2f}; head/frame jump: bilinear {b[1] / b[2]:.2f}, guided {g[1] / g[2]:.2f}")
    print(f"time ratio guided/bilinear: {times['guided'] / times['bilinear']:.2f} "
          f"(per megapixel guided {times['guided'] / (width * height / 1e6):.3f} s)")


if __name__ == "__main__":
    main()
