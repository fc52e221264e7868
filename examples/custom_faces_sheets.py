"""Contact sheets and numbers of examples/seed_features_custom.sh: ``python custom_faces_sheets.py OUT DOCS``.

Sheets (in DOCS): classes.png (random samples against each class's latent-generator samples, photo and
cartoon), info-codes.png (the Info-StyleGAN's two codes), template.png (samples without and with the
template's layers), walk.png (frames of the female -> male walk, photo over cartoon), faceswap.png
(video frames before and after the swap). The numbers go to DOCS/numbers.json and stdout.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from toonforge.evaluation.sheet import contact_sheet, pick_evenly
from toonforge.io.images import list_images, load_image, save_image
from toonforge.io.video import read_frames


def _load(p: Path) -> np.ndarray:
    return load_image(p).rgb


def _diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float32) - b.astype(np.float32)).mean())


def _last_stats(run_root: Path) -> dict:
    lines = sorted(run_root.glob("*/stats.jsonl"))[-1].read_text().splitlines()
    return json.loads(lines[-1])


def main(out: Path, docs: Path) -> None:
    from toonforge.stylegan.latent_classes import load_bundle

    numbers: dict = {}
    bundle = load_bundle(out / "gender.safetensors")
    numbers["latent_generator"] = {"classifier_val_accuracy": bundle.info["classifier_val_accuracy"],
                                   "scores": bundle.info["scores"], "counts": bundle.info["counts"]}
    cols = ["random", "female", "male", "random (cartoon)", "female (cartoon)", "male (cartoon)"]
    rows = []
    for i in range(6):
        names = (f"seed{i:07d}.png", f"latent{i:07d}.png", f"latent{i:07d}.png")
        dirs = (out / "random", out / "class-female", out / "class-male")
        rows.append([_load(d / "photo" / n) for d, n in zip(dirs, names)]
                    + [_load(d / "style" / n) for d, n in zip(dirs, names)])
    save_image(docs / "classes.png", contact_sheet(cols, rows, tile=96), overwrite=True)

    info = [list_images(out / f"info-code{c}") for c in (0, 1)]
    save_image(docs / "info-codes.png", contact_sheet(["code 0", "code 1"], [[_load(a), _load(b)]
               for a, b in zip(*info)], tile=96), overwrite=True)
    stats = _last_stats(out / "runs" / "info")
    numbers["info_stylegan"] = {"step": stats["step"], "info/acc (last log window)": stats.get("info/acc"),
                                "mean |code 0 - code 1| per pixel": float(np.mean(
                                    [_diff(_load(a), _load(b)) for a, b in zip(*info)]))}

    plain, mixed = list_images(out / "no-template"), list_images(out / "template")
    mixed = [p for p in mixed if p.name.startswith("seed")]
    rows = [[_load(out / "template" / "template-aligned.png"), _load(out / "template" / "template-inverted.png")]]
    rows += [[_load(a), _load(b)] for a, b in zip(plain, mixed)]
    columns = ["sample (row 1: template)", "layers 4-7 from it (row 1: inverted)"]
    save_image(docs / "template.png", contact_sheet(columns, rows, tile=96), overwrite=True)
    numbers["template"] = {"mean |with - without| per pixel": float(np.mean([_diff(_load(a), _load(b))
                                                                            for a, b in zip(plain, mixed)]))}

    for name in ("walk-gender", "walk-loop"):
        frames = list(read_frames(out / f"{name}.mp4"))
        steps = [_diff(a, b) for a, b in zip(frames, frames[1:])]
        far = max(_diff(frames[0], f) for f in frames)
        numbers[name] = {"frames": len(frames), "max consecutive difference": max(steps),
                         "largest difference from frame 0": far}
        if name == "walk-gender":
            pick = pick_evenly(len(frames) // 2 + 1, 7)  # out to the farthest point
            half = frames[0].shape[1] // 2
            rows = [[frames[i][:, :half] for i in pick], [frames[i][:, half:] for i in pick]]
            save_image(docs / "walk.png", contact_sheet([f"frame {i}" for i in pick], rows, tile=96), overwrite=True)

    before, after = list(read_frames(out / "af1554-clip.mp4")), list(read_frames(out / "af1554-as-am1875.mp4"))
    pick = pick_evenly(len(after), 4)
    scut = out / "photos"
    rows = [[before[i], after[i]] for i in pick] + [[_load(scut / "AF1554.jpg"), _load(scut / "AM1875.jpg")]]
    save_image(docs / "faceswap.png", contact_sheet(["video frame (last row: person A)", "swapped (last row: B)"],
                                                    rows, tile=128), overwrite=True)
    stats = _last_stats(out / "runs" / "faceswap")
    numbers["faceswap"] = {"frames in / out": [len(before), len(after)], "step": stats["step"],
                           "loss/a": stats["loss/a"], "loss/b": stats["loss/b"]}
    (docs / "numbers.json").write_text(json.dumps(numbers, indent=1) + "\n")
    print(json.dumps(numbers, indent=1))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
