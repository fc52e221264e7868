"""How many ink strokes a style draws on smooth skin, from `toonforge eval` output folders.

For every square photo in PHOTOS with a face (dlib, 68 points), the skin between brows and chin
that `toonforge clean-pairs` cleans (`face.skin.skin_mask`: away from eyes, brows,
nostrils, mouth and the face's outline) is located in each output of the same name, and
`face.skin.stroke_share` counts the thin dark strokes there (more than --contrast grey levels
below the output's grey closing by an 11 px disc). Prints the mean and median share of stroke
pixels per folder. Compare folders whose faces have the same geometry (the same reshape or none): a reshape moves
the eyes over the mask.

    python scripts/skin_ink.py work-data/photos/heldout-photos EVAL/outputs/STYLE_A EVAL/outputs/STYLE_B
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from toonforge.face.landmarks68 import Landmarks68
from toonforge.face.skin import skin_mask, stroke_share
from toonforge.io.images import list_images, load_image


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("photos", type=Path)
    ap.add_argument("outputs", type=Path, nargs="+")
    ap.add_argument("--contrast", type=int, default=40, help="grey levels below the closing that make a stroke")
    args = ap.parse_args()
    find_landmarks = Landmarks68()
    shares: dict[Path, list[float]] = {o: [] for o in args.outputs}
    for photo in list_images(args.photos):
        rgb = load_image(photo).rgb
        landmarks = find_landmarks(rgb) if rgb.shape[0] == rgb.shape[1] else None
        if landmarks is None:
            continue
        for folder in args.outputs:
            out_file = folder / f"{photo.stem}.png"
            if not out_file.is_file():
                continue
            out = load_image(out_file).rgb
            size = out.shape[0]
            mask = skin_mask(landmarks * (size / rgb.shape[0]), size, soften=0) > 0.5
            shares[folder].append(stroke_share(out, mask, contrast=args.contrast))
    for folder, values in shares.items():
        print(f"{folder}: strokes on {100 * np.mean(values):.2f}% of skin pixels (median "
              f"{100 * np.median(values):.2f}%, {len(values)} faces)")


if __name__ == "__main__":
    main()
