"""``toonforge face-video``: a video of a latent walk through one or more StyleGAN2 generators."""

from __future__ import annotations

import argparse
import sys
from fractions import Fraction
from pathlib import Path

from ..errors import InputError
from ..io.outputs import declare_io


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "face-video", help="render a latent walk (edit direction or between faces) into a video",
        description="Walk one code along --direction by --step and back, or loop through all the codes "
        "(no --direction), and render every frame through each GENERATOR side by side (e.g. the photo "
        "generator and its cartoon transfer). Codes come from --latents (e.g. inverted faces) or --seeds "
        "(random samples mapped by the first generator). Writes an H.264 yuv420p video atomically.",
    )
    p.add_argument("generators", type=Path, nargs="+", metavar="GENERATOR",
                   help="generator weights (.safetensors, .pt), same architecture; one panel each")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--latents", type=Path, metavar="FILE",
                     help="W+ (N, num_ws, D) or W (N, D) codes, .npy or .safetensors (e.g. invert's latents.npy)")
    src.add_argument("--seeds", metavar="LIST", help="comma-separated seeds of random samples, e.g. 0,1,2")
    p.add_argument("--direction", type=Path, metavar="DIR.npy",
                   help="edit direction (.npy from edit --learn-direction); without it the walk loops "
                   "through the codes")
    p.add_argument("--index", type=int, default=0, help="--direction: which code to walk (default 0)")
    p.add_argument("--step", type=float, default=3.0, help="--direction: farthest move along it (default 3)")
    p.add_argument("--layers", metavar="LAYERS", help="--direction: move only these ws indices, e.g. 0-3 (default all)")
    p.add_argument("--steps", type=int, default=48, help="number of frames of the walk (default 48)")
    p.add_argument("--truncation", type=float, default=0.7, help="--seeds: psi in W (default 0.7)")
    p.add_argument("--fps", type=int, default=24, help="frames per second (default 24)")
    p.add_argument("--size", type=int, default=256, help="side of each panel in px (default 256)")
    p.add_argument("--noise-seed", type=int, default=0, help="seed of the fixed noise maps (default 0)")
    p.add_argument("--batch-size", type=int, default=8, help="frames per forward pass (default 8)")
    p.add_argument("-o", "--output", type=Path, required=True, help="output video (.mp4, .m4v, .mov, .mkv)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    p.add_argument("--quiet", action="store_true", help="no summary")
    declare_io(p, inputs=["generators", "latents", "direction"], outputs={"output": "file"})
    p.set_defaults(func=run)


def _seeds(text: str) -> list[int]:
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise InputError(f"--seeds must be comma-separated integers, got {text!r}") from None
    if not seeds:
        raise InputError("--seeds is empty")
    return seeds


def start_codes(G, latents: Path | None, seeds: str | None, truncation: float):
    """W+ codes (K, num_ws, D) for the walk: the saved ones, or the seeds' samples (truncated in W)."""
    import torch

    from ..stylegan.latents import check_latents, load_latents, truncation_center

    if latents is not None:
        return check_latents(load_latents(latents), G, latents.name).float()
    if not 0.0 <= truncation <= 2.0:
        raise InputError(f"--truncation must be in [0, 2], got {truncation}")
    with torch.no_grad():
        z = torch.cat([G.sample_z(1, s) for s in _seeds(seeds)])
        return G.to_wplus(G.truncate(G.style(z), truncation, truncation_center(G))).clone()


def run(args: argparse.Namespace) -> int:
    import torch

    from ..io.video import VideoWriter, check_output
    from ..models.stylegan2 import load_generator
    from ..stylegan.editing import load_direction
    from ..stylegan.fusion import check_same_architecture
    from ..stylegan.mixing import parse_layers
    from ..stylegan.walk import direction_walk, loop_walk, render_walk

    if args.steps < 2:
        raise InputError(f"--steps must be at least 2, got {args.steps}")
    if not 1 <= args.fps <= 240 or not 16 <= args.size <= 2048 or args.batch_size < 1:
        raise InputError("need --fps in 1..240, --size in 16..2048 and --batch-size >= 1")
    check_output(args.output, overwrite=args.overwrite)
    gens = [load_generator(p).to(args.device) for p in args.generators]
    for p, G in zip(args.generators[1:], gens[1:]):
        check_same_architecture(gens[0], G, (args.generators[0].name, p.name))
    codes = start_codes(gens[0], args.latents, args.seeds, args.truncation)
    if args.direction is not None:
        if not 0 <= args.index < codes.shape[0]:
            raise InputError(f"--index {args.index} is out of range: there are {codes.shape[0]} codes")
        layers = parse_layers(args.layers, gens[0].num_ws) if args.layers else None
        with torch.no_grad():
            ws = direction_walk(codes[[args.index]], load_direction(args.direction), args.step, args.steps, layers)
    else:
        ws = loop_walk(codes, args.steps)
    width = args.size * len(gens)
    with VideoWriter(args.output, fps=Fraction(args.fps), size=(width, args.size), overwrite=args.overwrite) as w:
        for frame in render_walk(gens, ws, size=args.size, noise_seed=args.noise_seed, batch=args.batch_size):
            w.write(frame)
    if not args.quiet:
        print(f"wrote {args.output} ({ws.shape[0]} frames, {len(gens)} panel(s) of {args.size} px)", file=sys.stderr)
    return 0
