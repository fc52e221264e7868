"""``toonforge edit``: move saved latents along an attribute direction, fuse faces, or learn a direction.

* ``edit GEN --latents L.npy --direction D.npy --step 2 -o OUT``: OUT/NAME.png per code and OUT/latents.npy.
* ``edit GEN --latents L.npy --fuse [--weights 1,2] -o OUT``: OUT/fused.png and OUT/fused.npy (1, num_ws, D).
* ``edit GEN --latents L.npy --learn-direction (--labels labels.csv | --pose) -o D.npy``: logistic regression;
  writes D.npy (the unit normal) and D.json (bias, training accuracy).

Names of the codes come from the ``latents.json`` that ``toonforge invert`` writes beside them (else the row
numbers 0, 1, ...); label files name codes by those names.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..io.files import atomic_write_stream
from ..io.outputs import declare_io
from .pickle_args import add_allow_pickle


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "edit", help="edit StyleGAN2 latents: attribute directions, face fusion, learning a direction",
        description="Move W+ codes along a direction (--direction, --step), average them (--fuse), or learn "
        "a direction by logistic regression on labelled codes (--learn-direction with --labels or --pose).",
    )
    p.add_argument("generator", type=Path, metavar="GEN", help="generator weights (.safetensors, .pt)")
    p.add_argument("--latents", type=Path, required=True, help="codes .npy/.safetensors, (N, num_ws, D) or (N, D)")
    how = p.add_mutually_exclusive_group(required=True)
    how.add_argument("--direction", type=Path, help="a direction .npy to move the codes along")
    how.add_argument("--fuse", action="store_true", help="average the codes into one face")
    how.add_argument("--learn-direction", action="store_true", help="fit a direction; -o names the .npy")
    p.add_argument("--step", type=float, default=2.0, help="distance to move along --direction (default 2)")
    p.add_argument("--layers", metavar="LAYERS", help="move only these ws indices, e.g. 0-5 (default all)")
    p.add_argument("--weights", help="--fuse: comma-separated weights, one per code (default equal)")
    p.add_argument("--labels", type=Path, help="--learn-direction: CSV 'name,label' with labels 0/1")
    p.add_argument("--pose", action="store_true",
                   help="--learn-direction: label codes by yaw from landmarks of the faces G draws (dlib)")
    p.add_argument("--l2", type=float, default=1e-3, help="--learn-direction: L2 penalty (default 1e-3)")
    p.add_argument("-o", "--output", type=Path, required=True, help="output folder (or .npy for --learn-direction)")
    p.add_argument("--seed", type=int, default=0, help="seed of the noise maps used for rendering (default 0)")
    p.add_argument("--quiet", action="store_true", help="no summary")
    add_allow_pickle(p)
    declare_io(p, inputs=["generator", "latents", "direction", "labels"], outputs={"output": "auto"})
    p.set_defaults(func=run)


def latent_names(path: Path, n: int) -> list[str]:
    """Names of n codes: from the ``.json`` beside ``path`` (as written by invert), else "0", "1", ..."""
    sidecar = path.with_suffix(".json")
    if sidecar.is_file():
        try:
            items = json.loads(sidecar.read_text(encoding="utf-8")).get("items", [])
            names = [str(it["name"]) for it in items]
        except (ValueError, KeyError, TypeError, AttributeError):
            raise InputError(f"{sidecar} is unreadable") from None
        if len(names) >= n:
            return names[:n]
    return [str(i) for i in range(n)]


def _render(G, ws, out: Path, names: list[str], seed: int) -> None:
    from ..io.images import save_image
    from ..stylegan.editing import render_batches
    from ..stylegan.latents import to_uint8

    for start, images in render_batches(G, ws, seed=seed):
        for j, rgb in enumerate(to_uint8(images)):
            save_image(out / f"{names[start + j]}.png", rgb, overwrite=True)


def _weights(text: str | None, n: int) -> list[float] | None:
    if text is None:
        return None
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise InputError(f"--weights must be comma-separated numbers, got {text!r}") from None
    if len(values) != n:
        raise InputError(f"--weights has {len(values)} values for {n} codes")
    return values


def _learn(args, G, ws, names) -> int:
    from ..stylegan.editing import fit_direction, pose_scores, read_labels, save_direction

    if args.output.suffix.lower() != ".npy":
        raise InputError(f"--learn-direction writes a .npy file, got {args.output.name}")
    if args.pose == (args.labels is not None):
        raise InputError("--learn-direction needs exactly one of --labels FILE or --pose")
    if args.labels is not None:
        table = read_labels(args.labels)
        keep = [i for i, nm in enumerate(names) if nm in table]
        labels = np.array([table[names[i]] for i in keep], np.float32)
        if len(keep) < 2:
            raise InputError(f"{args.labels.name} labels {len(keep)} of the {len(names)} codes; need at least 2")
    else:
        from ..face.detector import create_detector

        scores, found = pose_scores(G, ws, create_detector("dlib"))
        keep = [int(i) for i in np.flatnonzero(found)]
        if len(keep) < 2:
            raise InputError(f"faces found in {len(keep)} of {len(names)} images; need at least 2 for --pose")
        labels = (scores[keep] > np.median(scores[keep])).astype(np.float32)  # yaw split at the median
    direction = fit_direction(ws[keep], labels, l2=args.l2)
    save_direction(args.output, direction)
    if not args.quiet:
        print(f"direction from {len(keep)} codes, training accuracy {direction.accuracy:.3f}: {args.output}",
              file=sys.stderr)
    return 0


def run(args: argparse.Namespace) -> int:
    import torch

    from ..models.stylegan2 import load_generator
    from ..stylegan.editing import edit, fuse, load_direction
    from ..stylegan.latents import check_latents, load_latents
    from ..stylegan.mixing import parse_layers

    learn = args.learn_direction
    if not learn and args.output.exists() and not args.output.is_dir():
        raise InputError(f"{args.output} exists and is not a folder")
    if not learn:  # the images are named by row and replaced: only in a folder toonforge wrote
        from ..io.outputs import check_overwrite

        check_overwrite(args.output, option="-o")
    G = load_generator(args.generator, allow_pickle=args.allow_pickle)
    ws = check_latents(load_latents(args.latents), G, args.latents.name)
    names = latent_names(args.latents, ws.shape[0])
    if learn:
        return _learn(args, G, ws, names)
    if args.fuse:
        fused = fuse(ws, _weights(args.weights, ws.shape[0])).unsqueeze(0)
        args.output.mkdir(parents=True, exist_ok=True)
        atomic_write_stream(args.output / "fused.npy", lambda fh: np.save(fh, fused.numpy().astype(np.float32)))
        _render(G, fused, args.output, ["fused"], args.seed)
        result, what = fused, "fused"
    else:
        direction = load_direction(args.direction)
        layers = parse_layers(args.layers, G.num_ws) if args.layers else None
        with torch.no_grad():
            result = edit(ws, direction, args.step, layers=layers)
        args.output.mkdir(parents=True, exist_ok=True)
        atomic_write_stream(args.output / "latents.npy", lambda fh: np.save(fh, result.numpy().astype(np.float32)))
        _render(G, result, args.output, names, args.seed)
        what = f"moved by {args.step:g}"
    if not args.quiet:
        print(f"wrote {result.shape[0]} images ({what}) to {args.output}", file=sys.stderr)
    return 0
