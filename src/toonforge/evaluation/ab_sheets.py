"""A judge outside any network: blind A/B sheets of two styles' outputs, then a sign test on a rater's picks
(``python -m toonforge.evaluation.ab_sheets``, or ``scripts/ab_sheets.py``).

FD-MNv2 and the linear probe (toonforge.metrics.probe) read the same ImageNet features, so both may
reward what those features happen to count (line work, docs/anime/README.md). A person's choice
does not. ``make`` pairs the same-named images of two output folders (``toonforge stylize
--head-only`` of one photo folder with each style), puts each pair's A and B on a side drawn by a
seeded coin, and writes numbered sheets plus ``key.json`` (which side is which; do not open it
before rating). The rater writes one letter per pair into a text file, in pair order: ``L`` or
``R`` for the side they prefer, ``=`` for no preference (whitespace and ``#`` comments ignored).
``score`` unblinds and prints the count for each style and the two-sided sign-test p-value (ties
left out).

    python -m toonforge.evaluation.ab_sheets make OUT_A OUT_B --out ab/ --question "the better anime portrait"
    python -m toonforge.evaluation.ab_sheets score ab/ picks.txt
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from math import comb
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from ..errors import InputError, ToonforgeError
from ..io.files import atomic_write_text
from ..io.images import list_images, load_image, resize_rgb, save_image

KEY = "key.json"


def make_sheets(a_dir: Path, b_dir: Path, out: Path, *, seed: int = 0, per_sheet: int = 4, side: int = 256,
                question: str = "") -> int:
    """Write ``out/sheetNN.png`` (pairs numbered from 0, ``per_sheet`` a sheet, each image ``side`` px)
    and ``out/key.json``; returns the number of pairs. Images are paired by file stem."""
    a = {p.stem: p for p in list_images(a_dir)}
    b = {p.stem: p for p in list_images(b_dir)}
    names = sorted(a.keys() & b.keys())
    if not names:
        raise InputError(f"no image name is in both {a_dir} and {b_dir}")
    if (out / KEY).exists():
        raise InputError(f"{out / KEY} exists: these sheets may be rated already; choose another --out")
    coin = random.Random(seed)
    pairs = [{"name": n, "left": "A" if coin.random() < 0.5 else "B"} for n in names]
    out.mkdir(parents=True, exist_ok=True)
    label = 40
    for first in range(0, len(pairs), per_sheet):
        chunk = pairs[first:first + per_sheet]
        sheet = Image.new("RGB", (label + 2 * side + 8, len(chunk) * (side + 10) + (20 if question else 0)), "white")
        draw = ImageDraw.Draw(sheet)
        if question:
            draw.text((4, 4), f"Which is {question}? L or R", fill="black")
        for row, pair in enumerate(chunk):
            y = row * (side + 10) + (20 if question else 0)
            draw.text((4, y + side // 2), str(first + row), fill="black")
            left, right = (a, b) if pair["left"] == "A" else (b, a)
            for x, folder in ((label, left), (label + side + 8, right)):
                sheet.paste(Image.fromarray(resize_rgb(load_image(folder[pair["name"]]).rgb, (side, side))), (x, y))
        save_image(out / f"sheet{first // per_sheet:02d}.png", np.asarray(sheet), overwrite=True)
    key = {"a": str(a_dir), "b": str(b_dir), "seed": seed, "question": question, "pairs": pairs}
    atomic_write_text(out / KEY, json.dumps(key, indent=1))
    return len(pairs)


def read_picks(text: str) -> list[str]:
    """The rater's letters (``L``, ``R`` or ``=``) in pair order."""
    letters = "".join(line.split("#", 1)[0] for line in text.splitlines()).split()
    letters = [c for word in letters for c in word.upper()]
    bad = sorted(set(letters) - {"L", "R", "="})
    if bad:
        raise InputError(f"picks may hold only L, R and =; found {' '.join(bad)}")
    return letters


def sign_test(wins: int, losses: int) -> float:
    """Two-sided exact sign test: the chance of a split at least this uneven with fair coins."""
    n = wins + losses
    if n == 0:
        return 1.0
    tail = sum(comb(n, k) for k in range(max(wins, losses), n + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def score(out: Path, picks: list[str]) -> dict:
    """Unblind ``picks`` with ``out/key.json``: counts for A and B, ties, and the sign-test p-value."""
    key = json.loads((out / KEY).read_text())
    pairs = key["pairs"]
    if len(picks) != len(pairs):
        raise InputError(f"{len(picks)} picks for {len(pairs)} pairs: give one L, R or = per pair")
    chosen = [None if p == "=" else (pair["left"] if p == "L" else "BA"[pair["left"] == "B"])
              for p, pair in zip(picks, pairs)]
    a, b = chosen.count("A"), chosen.count("B")
    return {"a": key["a"], "b": key["b"], "A": a, "B": b, "ties": chosen.count(None), "p": sign_test(a, b),
            "A_names": [pair["name"] for c, pair in zip(chosen, pairs) if c == "A"]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    mk = sub.add_parser("make", help="write blind sheets and their key")
    mk.add_argument("a", type=Path, help="outputs of style A")
    mk.add_argument("b", type=Path, help="outputs of style B (same file names)")
    mk.add_argument("--out", type=Path, required=True)
    mk.add_argument("--seed", type=int, default=0)
    mk.add_argument("--per-sheet", type=int, default=4)
    mk.add_argument("--question", default="", help='printed on each sheet, e.g. "the better anime portrait"')
    sc = sub.add_parser("score", help="unblind a rater's picks")
    sc.add_argument("out", type=Path, help="the folder make wrote")
    sc.add_argument("picks", type=Path, help="text file: one L, R or = per pair, in pair order")
    args = ap.parse_args(argv)
    try:
        if args.cmd == "make":
            n = make_sheets(args.a, args.b, args.out, seed=args.seed, per_sheet=args.per_sheet, question=args.question)
            print(f"{n} pairs on {-(-n // args.per_sheet)} sheets in {args.out}; rate them before opening {KEY}")
        else:
            r = score(args.out, read_picks(args.picks.read_text()))
            print(f"A ({r['a']}) preferred {r['A']}, B ({r['b']}) preferred {r['B']}, no preference {r['ties']}; "
                  f"two-sided sign test p = {r['p']:.2g}")
    except (ToonforgeError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
