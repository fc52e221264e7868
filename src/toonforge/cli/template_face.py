"""The template face of ``toonforge sample --template``: aligned, inverted into W+, cached in the output folder.

Files in the output folder: ``template.npy`` (1, num_ws, D), ``template.json`` (what it was made from:
the image's SHA-256, the generator's weight digest, steps, seed), ``template-aligned.png`` (the target)
and ``template-inverted.png`` (the generator's drawing of the code). A rerun with the same template,
generator and settings reuses the code instead of inverting again.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..io.files import atomic_output, atomic_write_text

CODE, INFO = "template.npy", "template.json"


def invert_template(generator: Path, image: Path, out: Path, layers: str, *, steps: int = 300, seed: int = 0,
                    device: str = "cpu") -> tuple[Path, dict[str, Any]]:
    """(path of the template's W+ code file, its record for the manifest); ``layers`` (e.g. "5-8") are
    checked against the generator before anything is inverted."""
    from ..face.detector import create_detector
    from ..io.checkpoints import weights_sha256
    from ..io.files import file_sha256
    from ..io.images import save_image
    from ..models.stylegan2 import load_generator
    from ..stylegan.inversion import invert_optimize
    from ..stylegan.latents import to_uint8
    from ..stylegan.mixing import parse_layers
    from .invert_cmd import _target

    if steps < 0:
        raise InputError(f"--template-steps must be >= 0, got {steps}")
    if not image.is_file():
        raise InputError(f"template image not found: {image}")
    G = load_generator(generator).to(device)
    parse_layers(layers, G.num_ws)
    info = {"image": str(image.resolve()), "image_sha256": file_sha256(image), "generator_weights": weights_sha256(G),
            "steps": steps, "seed": seed, "space": "w+"}
    code_path, info_path = out / CODE, out / INFO
    if code_path.is_file() and info_path.is_file():
        try:
            if json.loads(info_path.read_text(encoding="utf-8")) == info:
                return code_path, info
        except ValueError:
            pass  # unreadable: invert again
    crop, target = _target(image, G.size, create_detector("dlib"))
    res = invert_optimize(G, target, space="w+", steps=steps, seed=seed)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_output(code_path) as tmp, open(tmp, "wb") as fh:
        np.save(fh, res.ws.cpu().numpy().astype(np.float32))
    save_image(out / "template-aligned.png", crop, overwrite=True)
    save_image(out / "template-inverted.png", to_uint8(res.image)[0], overwrite=True)
    atomic_write_text(info_path, json.dumps(info, indent=1))
    return code_path, info
