"""``toonforge invert``: find W+ codes of photos with a StyleGAN2 generator (for Toonify sampling and editing).

Outputs in OUT_DIR: ``latents.npy`` (N, num_ws, D) float32, ``latents.json`` (settings and, in row order,
each photo's name, source file and final loss), ``NAME.png`` (G's reconstruction), ``aligned/NAME.png``
(the target G was fitted to) and with ``--save-noise`` ``noise/NAME.safetensors``. Both latents files are
rewritten atomically after every photo, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..io.files import atomic_output, atomic_write_stream
from ..io.outputs import declare_io
from .pickle_args import add_allow_pickle
from .vocabulary import alias

LATENTS, INDEX = "latents.npy", "latents.json"
_IDENTITY = ("generator_weights", "space", "steps", "lr", "w_pixel", "w_perceptual", "noise_reg", "align", "seed",
             "encoder")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "invert", help="invert photos into a StyleGAN2 generator's W+ space",
        description="Fit a W+ code per photo by optimization (perceptual + pixel loss, noise regularization). "
        "Faces are detected and aligned FFHQ-style at the generator's size unless --no-align. Writes "
        "OUT/latents.npy (N, num_ws, D), OUT/latents.json and OUT/NAME.png; rerunning skips finished photos.",
    )
    p.add_argument("generator", type=Path, metavar="GEN", help="generator weights (.safetensors, .pt)")
    p.add_argument("photos", type=Path, nargs="+", metavar="PHOTOS", help="image files or folders")
    p.add_argument("-o", "--output", type=Path, required=True, help="output folder")
    p.add_argument("--space", choices=["w", "w+"], default="w+", help="latent space to optimize (default w+)")
    p.add_argument("--steps", type=int, default=300, help="optimizer steps per photo (default 300)")
    p.add_argument("--lr", type=float, default=0.05, help="peak learning rate (default 0.05)")
    p.add_argument("--lambda-pixel", dest="w_pixel", type=float, default=1.0,
                   help="weight of the pixel MSE (default 1)")
    p.add_argument("--lambda-perceptual", dest="w_perceptual", type=float, default=1.0,
                   help="weight of the perceptual loss; 0 disables it")
    p.add_argument("--noise-reg", type=float, default=1e5, help="noise regularization weight (default 1e5)")
    p.add_argument("--align", action=argparse.BooleanOptionalAction, default=True,
                   help="detect the largest face and align it FFHQ-style (default); --no-align uses the whole image")
    p.add_argument("--detector", default="dlib", help="face detector backend (default dlib)")
    p.add_argument("--encoder", type=Path, metavar="ENC",
                   help="a Z+ encoder (.safetensors from train_encoder): start from its code, then refine "
                   "for --steps in W+ (0: the encoder's code as is)")
    p.add_argument("--save-noise", action="store_true", help="also save the optimized noise maps per photo")
    p.add_argument("--seed", type=int, default=0, help="seed of the noise initialization (default 0)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    p.add_argument("--overwrite", action="store_true", help="start over, dropping earlier results in OUT")
    p.add_argument("--quiet", action="store_true", help="no progress bar or notices")
    add_allow_pickle(p)
    alias(p, "--lambda-pixel", "--w-pixel")
    alias(p, "--lambda-perceptual", "--w-perceptual")
    declare_io(p, inputs=["generator", "photos", "encoder"], outputs={"output": "own-folder"})
    p.set_defaults(func=run)


def collect_photos(inputs: list[Path]) -> list[tuple[str, Path]]:
    """(name, path) pairs from files and folders; names are file stems and must be unique."""
    from ..io.images import list_images

    out: list[tuple[str, Path]] = []
    for item in inputs:
        if item.is_dir():
            out.extend((f.stem, f) for f in list_images(item))
        else:
            out.append((item.stem, item))  # unreadable files are reported when loaded
    seen: dict[str, Path] = {}
    for name, path in out:
        if name in seen and seen[name] != path:
            raise InputError(f"two photos are named {name!r} ({seen[name]} and {path}); rename one")
        seen[name] = path
    return list(dict.fromkeys(out))


def save_state(out: Path, settings: dict, items: list[dict], codes: list[np.ndarray]) -> None:
    """Write latents.npy then latents.json, each atomically (the JSON lists which rows are valid)."""
    atomic_write_stream(out / LATENTS, lambda fh: np.save(fh, np.stack(codes).astype(np.float32)))
    text = json.dumps({**settings, "items": items}, indent=1).encode("utf-8")
    atomic_write_stream(out / INDEX, lambda fh: fh.write(text))


def load_state(out: Path, settings: dict) -> tuple[list[dict], list[np.ndarray]]:
    """Earlier results in ``out`` made with the same settings: (items, rows); empty when none."""
    if not (out / INDEX).is_file():
        return [], []
    try:
        meta = json.loads((out / INDEX).read_text(encoding="utf-8"))
        items = list(meta["items"])
        rows = np.load(out / LATENTS, allow_pickle=False) if items else np.zeros((0,))
    except (OSError, ValueError, KeyError, TypeError):
        raise InputError(f"{out / INDEX} or {LATENTS} is unreadable; use --overwrite to start over") from None
    if any(meta.get(k) != settings.get(k) for k in _IDENTITY):
        raise InputError(f"{out} holds inversions made with other settings or weights; use a new folder or --overwrite")
    if len(rows) < len(items):
        raise InputError(f"{out / LATENTS} has {len(rows)} rows for {len(items)} names; use --overwrite")
    return items, [rows[i] for i in range(len(items))]


def _target(path: Path, size: int, detector):
    """(aligned uint8 (size, size, 3), tensor (1, 3, size, size) in [-1, 1]) of one photo."""
    import torch

    from ..face.align import align_face
    from ..io.images import load_image, resize_rgb

    rgb = load_image(path).rgb
    if detector is not None:
        faces = detector(rgb)
        if not faces:
            raise InputError(f"no face found in {path}")
        crop = align_face(rgb, faces[0].landmarks, size).crop
    else:
        crop = resize_rgb(rgb, (size, size))
    x = torch.from_numpy(crop).permute(2, 0, 1).float().div(127.5).sub(1).unsqueeze(0)
    return crop, x


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ..face.detector import create_detector
    from ..io.images import save_image
    from ..models.stylegan2 import load_generator
    from ..stylegan.encoder import invert_encoder
    from ..stylegan.inversion import invert_optimize
    from ..stylegan.latents import to_uint8
    from ..stylegan.sampling import weights_sha256

    if args.steps < 0:
        raise InputError(f"--steps must be >= 0, got {args.steps}")
    if args.output.exists() and not args.output.is_dir():
        raise InputError(f"{args.output} exists and is not a folder")
    photos = collect_photos(args.photos)
    if not photos:
        raise InputError("no photos found in the given paths")
    G = load_generator(args.generator, allow_pickle=args.allow_pickle).to(args.device)
    settings = {
        "generator": str(args.generator.resolve()), "generator_weights": weights_sha256(G), "space": args.space,
        "steps": args.steps, "lr": args.lr, "w_pixel": args.w_pixel, "w_perceptual": args.w_perceptual,
        "noise_reg": args.noise_reg, "align": args.align, "seed": args.seed,
        "shape": [G.num_ws, G.style_dim], "encoder": None,
    }
    encoder = None
    if args.encoder is not None:
        from ..io.files import file_sha256
        from ..stylegan.encoder import load_encoder

        encoder = load_encoder(args.encoder).to(args.device)
        settings["encoder"], settings["space"] = file_sha256(args.encoder), "w+"
    out = args.output
    if args.overwrite:
        for f in (out / INDEX, out / LATENTS):
            f.unlink(missing_ok=True)
    items, codes = load_state(out, settings)
    done = {it["name"] for it in items}
    todo = [(n, p) for n, p in photos if n not in done]
    say = (lambda m: None) if args.quiet else (lambda m: tqdm.write(m, file=sys.stderr))
    if len(todo) < len(photos):
        say(f"skipping {len(photos) - len(todo)} already inverted (use --overwrite to redo)")
    detector = create_detector(args.detector) if args.align and todo else None
    out.mkdir(parents=True, exist_ok=True)
    failures = 0
    bar = tqdm(todo, unit="img", disable=args.quiet or len(todo) < 2, file=sys.stderr)
    for name, path in bar:
        bar.set_postfix_str(name)
        try:
            crop, target = _target(path, G.size, detector)
        except InputError as exc:
            if len(photos) == 1:
                raise
            failures += 1
            tqdm.write(f"error: {exc}", file=sys.stderr)  # shown even with --quiet
            continue
        opts = {"lr": args.lr, "w_pixel": args.w_pixel, "w_perceptual": args.w_perceptual,
                "noise_reg": args.noise_reg, "seed": args.seed}
        if encoder is not None:
            res = invert_encoder(G, encoder, target, refine_steps=args.steps, **opts)
        else:
            res = invert_optimize(G, target, space=args.space, steps=args.steps, **opts)
        save_image(out / "aligned" / f"{name}.png", crop, overwrite=True)
        save_image(out / f"{name}.png", to_uint8(res.image)[0], overwrite=True)
        if args.save_noise:
            from safetensors.torch import save_file

            (out / "noise").mkdir(exist_ok=True)
            with atomic_output(out / "noise" / f"{name}.safetensors") as tmp:
                save_file({f"noise_{i}": n.cpu().contiguous() for i, n in enumerate(res.noise)}, str(tmp))
        codes.append(res.ws[0].cpu().numpy())
        items.append({"name": name, "source": str(path), "loss": res.final_loss})
        save_state(out, settings, items, codes)
    if not args.quiet:
        print(f"inverted {len(todo) - failures} photos ({len(items)} in {out / LATENTS})", file=sys.stderr)
    if failures:
        print(f"error: {failures} of {len(todo)} photos failed (see messages above)", file=sys.stderr)
        return 2
    return 0
