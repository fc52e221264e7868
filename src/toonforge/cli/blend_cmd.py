"""``toonforge blend``: merge two StyleGAN2 generators by layer swap or per-layer interpolation."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import InputError
from ..io.outputs import declare_io
from .pickle_args import add_allow_pickle

PREVIEW_SEEDS = (0, 1, 2, 3)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "blend", help="merge two StyleGAN2 generators (layer swap / smooth interpolation)",
        description="Merge generators A and B of the same architecture. Each layer at resolution r gets "
        "weight w(r) of B: by default B supplies the fine layers (>= r: colour, texture) and A the coarse "
        "ones (< r: pose, shape); --b-layers coarse flips that. Toonify: A = style, B = photo model.",
    )
    p.add_argument("a", type=Path, metavar="A", help="generator A weights (.safetensors, .pt)")
    p.add_argument("b", type=Path, metavar="B", help="generator B weights, same architecture")
    p.add_argument("-o", "--output", type=Path, required=True, help="output .safetensors")
    how = p.add_mutually_exclusive_group(required=True)
    how.add_argument("--swap-resolution", type=int, metavar="R", help="hard swap: B's layers at >= R px")
    how.add_argument("--schedule", choices=["sigmoid"], help="smooth per-layer weights (needs --center)")
    how.add_argument("--weight", type=float, help="one weight of B for every layer, 0..1")
    p.add_argument("--center", type=float, help="sigmoid: resolution in px where w = 0.5")
    p.add_argument("--sharpness", type=float, default=1.0, help="sigmoid: slope per octave (default 1)")
    p.add_argument("--b-layers", choices=["fine", "coarse"], default="fine",
                   help="which layers lean to B (default fine)")
    p.add_argument("--mapping", choices=["a", "b", "blend"], default="a",
                   help="mapping network from A (default), B, or blended")
    p.add_argument("--preview", type=Path, metavar="PNG", help="also write a sheet A | blend | B for 4 seeds")
    p.add_argument("--truncation", type=float, default=0.7, help="truncation for the preview (default 0.7)")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    p.add_argument("--quiet", action="store_true", help="print nothing when it succeeds")
    add_allow_pickle(p)
    declare_io(p, inputs=["a", "b"], outputs={"output": "file", "preview": "file"})
    p.set_defaults(func=run)


def _schedule(args: argparse.Namespace):
    from ..stylegan.fusion import constant_schedule, sigmoid_schedule, swap_schedule

    if args.swap_resolution is not None:
        return swap_schedule(args.swap_resolution, args.b_layers)
    if args.schedule == "sigmoid":
        if args.center is None:
            raise InputError("--schedule sigmoid needs --center (a resolution in px, e.g. 32)")
        return sigmoid_schedule(args.center, args.sharpness, args.b_layers)
    return constant_schedule(args.weight)


def run(args: argparse.Namespace) -> int:
    from ..evaluation.sheet import contact_sheet
    from ..io.images import save_image
    from ..models.stylegan2 import load_generator, save_generator
    from ..stylegan.fusion import blend_generators
    from ..stylegan.latents import RenderSettings, render

    out = args.output
    if out.suffix.lower() != ".safetensors":
        raise InputError(f"the output must be a .safetensors file, got {out.name}")
    for target in (out, args.preview):
        if target is not None and target.exists() and not args.overwrite:
            raise InputError(f"{target} already exists (use --overwrite to replace it)")
    schedule = _schedule(args)  # validate arguments before loading weights
    ga = load_generator(args.a, allow_pickle=args.allow_pickle)
    gb = load_generator(args.b, allow_pickle=args.allow_pickle)
    if args.swap_resolution is not None and args.swap_resolution > ga.size:
        raise InputError(f"--swap-resolution {args.swap_resolution} is above the generator size {ga.size} px")
    blended = blend_generators(ga, gb, schedule, args.mapping, names=(args.a.name, args.b.name))
    save_generator(out, blended)
    weights = ", ".join(f"{r}px {schedule(r):.2f}" for r in sorted(set(ga.layer_resolutions())))
    if not args.quiet:
        print(f"wrote {out} (weight of B per resolution: {weights}; mapping: {args.mapping})")
    if args.preview is not None:
        settings = RenderSettings(truncation=args.truncation, mapping="each")
        cols = [render({"g": g}, PREVIEW_SEEDS, settings)["g"] for g in (ga, blended, gb)]
        sheet = contact_sheet([f"A: {args.a.stem}", "blend", f"B: {args.b.stem}"], list(zip(*cols)))
        save_image(args.preview, sheet, overwrite=args.overwrite)
        if not args.quiet:
            print(f"wrote {args.preview}")
    return 0
