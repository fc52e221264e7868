"""How many ink strokes a style draws on smooth skin, from `toonforge eval` output folders
(:func:`skin_stroke_shares`; ``python -m toonforge.evaluation.skin_ink``, or ``scripts/skin_ink.py``).

For every square photo in PHOTOS with a face (dlib, 68 points), the skin between brows and chin
that `toonforge clean-pairs` cleans (`face.skin.skin_mask`: away from eyes, brows,
nostrils, mouth and the face's outline) is located in each output of the same name, and
`face.skin.stroke_share` counts the thin dark strokes there (more than --contrast grey levels
below the output's grey closing by an 11 px disc). Prints the mean and median share of stroke
pixels per folder. Compare folders whose faces have the same geometry (the same reshape or none): a reshape moves
the eyes over the mask.

    python -m toonforge.evaluation.skin_ink work-data/photos/heldout-photos EVAL/outputs/STYLE_A EVAL/outputs/STYLE_B
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ..face.skin import skin_mask, stroke_share
from ..io.images import list_images, load_image


def skin_stroke_shares(photos: Path, outputs: list[Path], *, contrast: int = 40,
                       find_landmarks=None) -> dict[Path, list[float]]:
    """Per output folder, the share of skin pixels (in [0, 1]) covered by thin dark strokes, one
    value per square photo of ``photos`` with a face whose output (same stem, ``.png``) exists.
    ``find_landmarks``: RGB uint8 (H, W, 3) -> (68, 2) pixel landmarks or None (default: dlib's
    68-point model)."""
    if find_landmarks is None:
        from ..face.landmarks68 import Landmarks68

        find_landmarks = Landmarks68()
    shares: dict[Path, list[float]] = {o: [] for o in outputs}
    for photo in list_images(photos):
        rgb = load_image(photo).rgb
        landmarks = find_landmarks(rgb) if rgb.shape[0] == rgb.shape[1] else None
        if landmarks is None:
            continue
        for folder in outputs:
            out_file = folder / f"{photo.stem}.png"
            if not out_file.is_file():
                continue
            out = load_image(out_file).rgb
            size = out.shape[0]
            mask = skin_mask(landmarks * (size / rgb.shape[0]), size, soften=0) > 0.5
            shares[folder].append(stroke_share(out, mask, contrast=contrast))
    return shares


def share_lines(shares: dict[Path, list[float]]) -> list[str]:
    """One line per folder: the mean and median stroke share (in %) and the face count."""
    lines = []
    for folder, values in shares.items():
        if not values:
            lines.append(f"{folder}: no face to measure")
            continue
        lines.append(f"{folder}: strokes on {100 * np.mean(values):.2f}% of skin pixels (median "
                     f"{100 * np.median(values):.2f}%, {len(values)} faces)")
    return lines


def write_skin_ink(photos: Path, eval_out: Path, *, contrast: int = 40) -> Path:
    """The stroke counts of every style's outputs in ``eval_out/outputs`` (a ``toonforge eval``
    folder) written to ``eval_out/skin-ink.txt`` (and printed); returns that path."""
    from ..io.files import atomic_write_text

    folders = sorted(p for p in (eval_out / "outputs").iterdir() if p.is_dir())
    text = "\n".join(share_lines(skin_stroke_shares(photos, folders, contrast=contrast))) + "\n"
    print(text, end="")
    return atomic_write_text(eval_out / "skin-ink.txt", text)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("photos", type=Path, help="the photos the outputs were made from")
    ap.add_argument("outputs", type=Path, nargs="+", help="folders of outputs (same file stems)")
    ap.add_argument("--contrast", type=int, default=40, help="grey levels below the closing that make a stroke")
    args = ap.parse_args(argv)
    shares = skin_stroke_shares(args.photos, args.outputs, contrast=args.contrast)
    print("\n".join(share_lines(shares)))


if __name__ == "__main__":
    main()
