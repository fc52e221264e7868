"""Skin tones kept or lost, per style and ``keep_colours``, on held-out real faces.

    python scripts/skin_tones.py --out /tmp/skin [--styles anime cartoon ...] [--keep 0 0.25 0.5]
        [--half tune|report] [--photos N] [--sheet FILE]

The faces: the 178 photos the shipped translators held out (``split_names`` of the SCUT and
selfie2anime file names, 5%, seed 0), split again by name hash into a ``tune`` half (to choose
each style's default) and a ``report`` half (to report it). The photos are mostly light-skinned,
so each is also given at two lower exposures (``evaluation.skin_tones.dimmed``: x0.45 and x0.2 in
linear light), which stand in for dim light and, roughly, for darker skin. Every variant uses
the landmarks dlib found on the original (same geometry), so a dim face cannot go missing.

Prints, per style and ``keep_colours``, the per-tone table (``skin_table_markdown``) and writes
it as JSON into ``--out``; ``--sheet`` writes a contact sheet of light / medium / dark faces
(one photo at the three exposures) before (``keep_colours`` 0) and after (the style's default).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from toonforge.evaluation.sheet import contact_sheet
from toonforge.evaluation.skin_tones import dimmed, mottle_table_markdown, skin_summary, skin_table_markdown
from toonforge.face.skin_tone import measure_skin
from toonforge.io.images import load_image, save_image
from toonforge.pipelines import Stylizer
from toonforge.training.paired_data import split_names

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "faces"
EXPOSURES = (1.0, 0.45, 0.2)
SHIPPED = ("anime", "cartoon", "cartoon-lite", "classic", "classic-lite", "colour-sketch", "filter", "sketch")


def held_out(half: str) -> list[Path]:
    paths = {p.name: p for sub in ("scut", "selfie2anime") for p in sorted((DATA / sub).glob("*.jpg"))}
    _, val = split_names(list(paths), 0.05, seed=0)
    tune, report = split_names(val, 0.5, seed=1)
    return [paths[n] for n in (tune if half == "tune" else report)]


def faces_of(paths: list[Path], cache: Path) -> dict[str, list]:
    """dlib's 68 landmarks of the first face of each photo (cached as JSON)."""
    known = json.loads(cache.read_text()) if cache.exists() else {}
    todo = [p for p in paths if p.name not in known]
    if todo:
        from toonforge.face.detector import create_detector

        det = create_detector("dlib")
        for p in todo:
            faces = det(load_image(p).rgb)
            known[p.name] = faces[0].landmarks.tolist() if faces and faces[0].landmarks.shape == (68, 2) else None
        cache.write_text(json.dumps(known))
    return known


def run_style(style: str, keep: float, photos: list[tuple[np.ndarray, np.ndarray]], stylizer=None,
              lift: float | None = None):
    """(photo, output) skin pairs of one style at one ``keep_colours`` (and lift) over all variants."""
    from toonforge.face.types import Face

    stylizer = stylizer or Stylizer(style, detector=None, threads=2)
    stylizer.keep_colours = keep
    if lift is not None:
        stylizer.keep_colours_lift = lift
    pairs = []
    for rgb, lm in photos:
        face = Face(box=np.r_[lm.min(0), lm.max(0)].astype(np.float32), landmarks=lm, score=1.0)
        for f in EXPOSURES:
            img = dimmed(rgb, f) if f != 1.0 else rgb
            out = stylizer(img, faces=[face]).image
            a, b = measure_skin(img, lm), measure_skin(out, lm)
            if a is not None and b is not None:
                pairs.append((a, b))
    return pairs, stylizer


def sheet(styles: list[str], keeps: dict[str, float], rgb: np.ndarray, lm: np.ndarray, path: Path) -> None:
    from toonforge.face.types import Face

    face = Face(box=np.r_[lm.min(0), lm.max(0)].astype(np.float32), landmarks=lm, score=1.0)
    variants = [dimmed(rgb, f) if f != 1.0 else rgb for f in EXPOSURES]
    names = ["photo"] + [f"{s} {k}" for s in styles for k in ("before", "after")]
    grid = []
    for img in variants:
        row = [img]
        for s in styles:
            st = Stylizer(s, detector=None, threads=2)
            for k in (0.0, keeps[s]):
                st.keep_colours = k
                row.append(st(img, faces=[face]).image)
        grid.append(row)
    save_image(path, contact_sheet(names, grid, tile=160), overwrite=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--styles", nargs="+", default=list(SHIPPED))
    ap.add_argument("--keep", nargs="+", type=float, default=None,
                    help="keep_colours values to measure (default: each style's own default)")
    ap.add_argument("--lift", type=float, default=None, help="keep_colours_lift for every style (default: the style's)")
    ap.add_argument("--half", choices=["tune", "report"], default="report")
    ap.add_argument("--photos", type=int, default=None, help="use only the first N photos of the half")
    ap.add_argument("--sheet", type=Path, default=None, help="write a light/medium/dark contact sheet here")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    paths = held_out(args.half)[:args.photos]
    marks = faces_of(paths, args.out / "landmarks.json")
    photos = [(load_image(p).rgb, np.array(marks[p.name], np.float32)) for p in paths if marks.get(p.name)]
    print(f"{len(photos)} of {len(paths)} held-out photos ({args.half} half) with 68 landmarks, "
          f"x{len(EXPOSURES)} exposures {EXPOSURES}", file=sys.stderr)
    results, rows, defaults = {}, [], {}
    for style in args.styles:
        st = None
        defaults[style] = Stylizer(style, detector=None).keep_colours
        for keep in args.keep if args.keep is not None else [defaults[style]]:
            pairs, st = run_style(style, keep, photos, st, args.lift)
            summary = skin_summary(pairs)
            results[f"{style} keep={keep:g}"] = summary
            rows.append((f"{style} keep_colours={keep:g}", summary))
            print(skin_table_markdown(rows[-1:]).splitlines()[-1], flush=True)
    (args.out / f"skin_{args.half}.json").write_text(json.dumps(results, indent=1))
    print(skin_table_markdown(rows))
    print("\nSkin evenness (mean interquartile range of skin L*; blotches raise the output's):")
    print(mottle_table_markdown(rows))
    if args.sheet:
        rgb, lm = photos[0]
        sheet(args.styles, defaults, rgb, lm, args.sheet)


if __name__ == "__main__":
    main()
