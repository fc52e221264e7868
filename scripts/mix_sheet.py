"""A contact sheet of style mixes of a multi-style model, along two axes.

    python scripts/mix_sheet.py MULTI PHOTO -o SHEET.jpg [--x anime,cartoon] [--y classic] [--steps 5 4]

Columns walk from the first ``--x`` style to the second (weights 1-t, t); rows mix in the ``--y``
style (the softest style makes the rows a stylization-strength axis) with weight s, the columns'
pair sharing the rest: ``w = (1 - s) * ((1 - t) * x0 + t * x1) + s * y``. Every tile is the whole
pipeline (face found, head and full frame stylized with the same mix) on PHOTO.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from toonforge.evaluation.sheet import contact_sheet
from toonforge.io.images import load_image, save_image
from toonforge.pipelines import Stylizer


def mixes(x0: str, x1: str, y: str, nx: int, ny: int) -> list[list[dict[str, float]]]:
    """Rows of mixes (row s, column t) as described in the module docstring."""
    grid = []
    for s in np.linspace(0.0, 1.0, ny, endpoint=False) if ny > 1 else [0.0]:
        row = []
        for t in np.linspace(0.0, 1.0, nx):
            w = {x0: (1 - s) * (1 - t), x1: (1 - s) * t, y: s}
            row.append({k: round(float(v), 4) for k, v in w.items() if v > 0})
        grid.append(row)
    return grid


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("multi", help="multi-style model (name or folder)")
    ap.add_argument("photo", type=Path)
    ap.add_argument("-o", "--output", type=Path, required=True)
    ap.add_argument("--x", default="anime,cartoon", help="the two styles of the columns (default: %(default)s)")
    ap.add_argument("--y", default="classic", help="the style mixed in down the rows (default: %(default)s)")
    ap.add_argument("--steps", type=int, nargs=2, default=(5, 4), help="columns and rows (default: 5 4)")
    ap.add_argument("--tile", type=int, default=200)
    ap.add_argument("--overwrite", action="store_true")
    args = ap.parse_args()
    x0, x1 = args.x.split(",")
    rgb = load_image(args.photo).rgb
    base = Stylizer(args.multi, threads=2)
    grid = [[base.mixed(m)(rgb).image for m in row] for row in mixes(x0, x1, args.y, *args.steps)]
    names = [f"{x1} share {t:.2f}" for t in np.linspace(0.0, 1.0, args.steps[0])]
    print(f"rows: {args.y} mixed in at " + ", ".join(f"{s:.2f}" for s in np.linspace(0, 1, len(grid), endpoint=False)))
    save_image(args.output, contact_sheet(names, grid, tile=args.tile), overwrite=args.overwrite)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
