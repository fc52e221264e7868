"""``toonforge convert``: a StyleGAN2 snapshot (NVlabs .pkl, rosinality .pt) as safetensors files."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..io.outputs import declare_io
from .pickle_args import add_allow_pickle

NAMES = {"g_ema": "G_ema.safetensors", "g": "G.safetensors", "d": "D.safetensors"}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "convert", help="write the G, G_ema and D of a StyleGAN2 snapshot as safetensors files",
        description="Read an NVlabs stylegan2-ada-pytorch snapshot (.pkl, needs --allow-pickle; no code from "
        "it runs) or a rosinality checkpoint (.pt) and write OUT/G_ema.safetensors, OUT/G.safetensors and "
        "OUT/D.safetensors (those it holds), each with its architecture, conv clamp and minibatch-stddev "
        "group in the metadata. Every command that takes a generator or a discriminator reads them "
        "(train-stylegan: --resume-from OUT/G_ema.safetensors --source-d OUT/D.safetensors).",
    )
    p.add_argument("snapshot", type=Path, metavar="SNAPSHOT", help="NVlabs .pkl or rosinality .pt")
    p.add_argument("-o", "--output", type=Path, required=True, help="folder for the safetensors files")
    p.add_argument("--overwrite", action="store_true", help="replace files of the same names in OUT")
    p.add_argument("--quiet", action="store_true", help="no summary")
    add_allow_pickle(p)
    declare_io(p, inputs=["snapshot"], outputs={"output": "folder"})
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import InputError
    from ..models.stylegan2 import load_discriminator, load_generator, save_discriminator, save_generator
    from ..models.stylegan2.checkpoint import read_checkpoint

    if args.output.exists() and not args.output.is_dir():
        raise InputError(f"{args.output} exists and is not a folder")
    content, _ = read_checkpoint(args.snapshot, allow_pickle=args.allow_pickle)
    keys = [k for k in NAMES if isinstance(content.get(k), dict)] or ["g_ema"]  # a flat state dict: one G
    del content
    taken = [args.output / NAMES[k] for k in keys if (args.output / NAMES[k]).exists()]
    if taken and not args.overwrite:
        raise InputError(f"{taken[0]} exists; pass --overwrite to replace it")
    lines = []
    for key in keys:
        target = args.output / NAMES[key]
        if key == "d":
            net = load_discriminator(args.snapshot, allow_pickle=args.allow_pickle)
            save_discriminator(target, net)
            extra = f"stddev group {net.config['stddev_group']}"
        else:
            net = load_generator(args.snapshot, key=key, allow_pickle=args.allow_pickle)
            save_generator(target, net)
            extra = f"w_avg {'kept' if net.latent_avg is not None else 'absent'}"
        clamp = net.config.get("conv_clamp")
        lines.append(f"{target}: {net.size} px, conv clamp {clamp if clamp is not None else 'off'}, {extra}")
    if not args.quiet:
        print("\n".join(lines))
    return 0
