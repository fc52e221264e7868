"""Face detection recall by face size, and time per frame, for each detector backend.

    python benchmarks/bench_face_detection.py [--photos 4] [--sheet docs/face-detection/group-1080p.jpg]

Group photos are composed from ../shared/data portraits (SCUT frontal faces and
selfie2anime selfies, which include three-quarter views), each pasted so that its face has a
chosen side, into 1920x1080 and 3840x2160 frames (toonforge.evaluation.group_photos). A face
counts as found when a returned box overlaps it by IoU >= 0.4. The reference face of each
portrait is dlib's box at the portrait's native size (BlazeFace's dlib-like box where dlib
finds none, so portraits dlib misses are not left out). Backends run on the same frames, one
after the other, with --min-face 40; times are medians over the frames of one size.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import cv2
import numpy as np

from toonforge.evaluation.group_photos import Portrait, compose_group, recall, reference_box
from toonforge.face.frontend import build_detector
from toonforge.io.images import load_image

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "faces"
SIDES = (40, 60, 90, 140, 220, 340, 520)
FRAMES = {"1080p": ((1920, 1080), (40, 40, 60, 60, 90, 140, 220, 340, 520)),
          "4K": ((3840, 2160), (40, 40, 60, 60, 90, 90, 140, 140, 220, 340, 520, 800))}


def portraits(n: int) -> list[Portrait]:
    """Alternating SCUT and selfie portraits with a known face box."""
    dlib = build_detector("dlib", min_face=60)
    blaze = build_detector("blazeface", min_face=60)
    scut = sorted((DATA / "scut").glob("*.jpg"))[200:]
    selfie = sorted((DATA / "selfie2anime").glob("*.jpg"))[1000:]
    out: list[Portrait] = []
    for a, b in zip(scut, selfie):
        for path in (a, b):
            rgb = load_image(path).rgb
            box = reference_box(rgb, dlib)
            if box is None:
                box = reference_box(rgb, blaze)
            if box is not None:
                out.append(Portrait(rgb, box))
        if len(out) >= n:
            return out[:n]
    return out


def draw(image: np.ndarray, truth: np.ndarray, found: list[np.ndarray], hits: np.ndarray) -> np.ndarray:
    """Contact sheet: true faces green (found) or orange (missed), detections thin red."""
    bgr = image[..., ::-1].copy()
    for box, hit in zip(truth, hits):
        cv2.rectangle(bgr, tuple(int(v) for v in box[:2]), tuple(int(v) for v in box[2:]),
                      (0, 200, 0) if hit else (0, 140, 255), 3)
    for box in found:
        cv2.rectangle(bgr, tuple(int(v) for v in box[:2]), tuple(int(v) for v in box[2:]), (0, 0, 255), 1)
    return bgr


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", type=int, default=4, help="group photos per frame size")
    ap.add_argument("--backends", default="blazeface,dlib",
                    help="comma-separated detector names; blazeface-windows: BlazeFace scanning each window "
                         "on its own, as before the tiled levels; blazeface-nolook: the tiled scan as it was before "
                         "the second look at weak detections (no look; faces counted from 0.9 --min-face)")
    ap.add_argument("--threads", type=int, default=2, help="ONNX Runtime threads for blazeface")
    ap.add_argument("--sheet", type=Path, default=None, help="write the first 1080p photo with its boxes here")
    ap.add_argument("--seed", type=int, default=1,
                    help="which portraits and places (BlazeFace's score threshold was chosen on seed 0)")
    args = ap.parse_args()
    pool = portraits(40)
    rng = np.random.default_rng(args.seed)
    backends = {}
    for name in args.backends.split(","):
        base = name.removesuffix("-windows").removesuffix("-nolook")
        backends[name] = build_detector(base, min_face=40, threads=args.threads if base == "blazeface" else None)
        if name.endswith("-windows"):  # every pyramid window on its own (before the tiles)
            backends[name]._free_size = False
        if name.endswith("-nolook"):  # the default before the second look: none, faces counted from 0.9 min
            backends[name].look_floor, backends[name].size_tolerance = None, 0.9
    rows = []
    for label, (size, sides) in FRAMES.items():
        found_by: dict[str, list[np.ndarray]] = {n: [] for n in backends}
        extra: dict[str, int] = {n: 0 for n in backends}
        times: dict[str, list[float]] = {n: [] for n in backends}
        truth_sides = []
        for k in range(args.photos):
            chosen = [pool[i] for i in rng.choice(len(pool), len(sides), replace=False)]
            for attempt in range(5):  # some draws of places leave no room for a face: draw again
                try:
                    g = compose_group(chosen, sides, size, seed=100 * args.seed + 100 + k + 1000 * attempt)
                    break
                except ValueError:
                    if attempt == 4:
                        raise
            truth_sides.append(g.sides)
            for name, det in backends.items():
                det(g.image[:64, :64].copy())  # warm-up outside the clock
                t0 = time.perf_counter()
                faces = det(g.image)
                times[name].append(time.perf_counter() - t0)
                boxes = np.stack([f.box for f in faces]) if faces else np.zeros((0, 4))
                hits = recall(g.boxes, boxes)
                found_by[name].append(hits)
                extra[name] += len(boxes) - int(recall(boxes, g.boxes).sum())  # boxes on no face
                if args.sheet is not None and label == "1080p" and k == 0 and name == "blazeface":
                    args.sheet.parent.mkdir(parents=True, exist_ok=True)
                    cv2.imwrite(str(args.sheet), cv2.resize(draw(g.image, g.boxes, list(boxes), hits), None,
                                                            fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA),
                                [cv2.IMWRITE_JPEG_QUALITY, 85])
        all_sides = np.concatenate(truth_sides)
        for name in backends:
            hits = np.concatenate(found_by[name])
            per = []
            for s in sorted(set(sides)):
                m = np.isclose(all_sides, s, atol=1)
                per.append(f"{hits[m].sum()}/{m.sum()}")
            rows.append((label, name, per, hits.mean(), extra[name], statistics.median(times[name])))
    sizes = sorted(set(FRAMES["4K"][1]))
    print(f"recall by face side (px), --min-face 40, {args.photos} photos per frame size")
    print("| frame | backend | " + " | ".join(str(s) for s in sizes) + " | all | false boxes | s / frame |")
    print("|---" * (len(sizes) + 5) + "|")
    for label, name, per, total, false, sec in rows:
        cells = dict(zip(sorted(set(FRAMES[label][1])), per))
        print(f"| {label} | {name} | " + " | ".join(cells.get(s, "-") for s in sizes)
              + f" | {100 * total:.0f}% | {false} | {sec:.2f} |")


if __name__ == "__main__":
    main()
