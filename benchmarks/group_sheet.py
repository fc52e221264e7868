"""Contact sheet: a composed 1080p group photo stylized by an older tree and by this one.

    python benchmarks/group_sheet.py --before /tmp/pre32/src -o docs/face-detection/group-before-after.jpg

The photo holds faces of 520, 340, 200, 110, 60 and 40 px (brows to chin; the issue's example
plus two smaller ones) from held-out ../shared/data portraits, composed as the recall benchmark
composes them (``toonforge.evaluation.group_photos``). Both trees run their own ``toonforge
stylize`` with their defaults (the older one in a subprocess with its ``src`` on PYTHONPATH).
The sheet shows both whole outputs, then each face at 1:1 (small ones enlarged 3x, nearest
pixel), before above after.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
from bench_face_detection import portraits

from toonforge.evaluation.group_photos import compose_group
from toonforge.io.images import load_image, save_image

SIDES = (520, 340, 200, 110, 60, 40)


def stylize_with(src: Path | None, photo: Path, out: Path, style: str) -> None:
    """Run ``toonforge stylize`` of the tree ``src`` (None: this process's tree) on ``photo``."""
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = str(src.resolve())
    cmd = [sys.executable, "-m", "toonforge", "stylize", str(photo), "-o", str(out), "--style", style]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"error: stylize with {src or 'this tree'} failed: {done.stderr.strip()[-300:]}")


def face_tile(img: np.ndarray, box: np.ndarray, side: int = 180) -> np.ndarray:
    """The face of ``box`` with a margin of half its side, at 1:1 (enlarged when small), padded to ``side``."""
    x0, y0, x1, y1 = (int(v) for v in box)
    m = (x1 - x0) // 2
    h, w = img.shape[:2]
    crop = img[max(0, y0 - m):min(h, y1 + m), max(0, x0 - m):min(w, x1 + m)]
    k = side / max(crop.shape[:2])
    crop = cv2.resize(crop, None, fx=k, fy=k, interpolation=cv2.INTER_AREA if k < 1 else cv2.INTER_NEAREST)
    tile = np.full((side, side, 3), 255, np.uint8)
    tile[:crop.shape[0], :crop.shape[1]] = crop
    return tile


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--before", type=Path, required=True, help="the older tree's src folder")
    ap.add_argument("-o", "--output", type=Path, required=True, help="the sheet (.jpg or .png)")
    ap.add_argument("--style", default="classic")
    ap.add_argument("--seed", type=int, default=4, help="which portraits and places (4: held out of tuning)")
    args = ap.parse_args()
    if not (args.before / "toonforge").is_dir():
        raise SystemExit(f"error: {args.before} holds no toonforge package")
    pool = portraits(40)
    rng = np.random.default_rng(args.seed)
    chosen = [pool[i] for i in rng.choice(len(pool), len(SIDES), replace=False)]
    group = compose_group(chosen, SIDES, (1920, 1080), seed=args.seed)
    with tempfile.TemporaryDirectory(prefix="group-sheet-") as tmp:
        photo = Path(tmp) / "group.png"
        save_image(photo, group.image)
        outs = {}
        for label, src in (("before", args.before), ("after", None)):
            stylize_with(src, photo, Path(tmp) / f"{label}.png", args.style)
            outs[label] = load_image(Path(tmp) / f"{label}.png").rgb
    half = [cv2.resize(outs[k], (960, 540), interpolation=cv2.INTER_AREA) for k in ("before", "after")]
    top = np.hstack(half)
    rows = []
    for label in ("before", "after"):
        rows.append(np.hstack([face_tile(outs[label], b) for b in group.boxes]))
    faces = np.vstack(rows)
    faces = np.hstack([faces, np.full((faces.shape[0], top.shape[1] - faces.shape[1], 3), 255, np.uint8)])
    sheet = np.vstack([top, np.full((8, top.shape[1], 3), 255, np.uint8), faces])
    args.output.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.output), sheet[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 85])
    print(f"wrote {args.output} ({sheet.shape[1]}x{sheet.shape[0]}; faces {', '.join(map(str, SIDES))} px; "
          f"top: before | after, below: each face before (upper) and after (lower))")


if __name__ == "__main__":
    main()
