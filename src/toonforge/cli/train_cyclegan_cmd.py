"""``toonforge train-cyclegan``: the CycleGAN baseline (stage 2) on unpaired folders."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..io.outputs import declare_io
from .loop_args import add_loop_args, loop_config, positive_float


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train-cyclegan",
        help="train the CycleGAN baseline (photo <-> style) on unpaired folders",
        description="Unpaired: PHOTOS and STYLES need not match. Each checkpoint writes "
        "generator.safetensors (photo -> style, EMA unless --no-ema) and, when the validation "
        "FD improves, best_generator.safetensors into the run folder.",
    )
    p.add_argument("--photos", type=Path, required=True, help="folder of real photos (domain A)")
    p.add_argument("--styles", type=Path, required=True, help="folder of style images (domain B)")
    p.add_argument("--n-blocks", type=int, default=9, help="residual blocks per generator (9 at 256 px, 6 at 128)")
    p.add_argument("--base-channels", type=int, default=64, help="generator base channels")
    p.add_argument("--d-channels", type=int, default=64, help="discriminator base channels")
    p.add_argument("--lr", type=positive_float, default=2e-4, help="Adam learning rate of all nets")
    p.add_argument("--lambda-cycle", type=float, default=10.0, help="weight of the cycle loss")
    p.add_argument("--lambda-identity", type=float, default=0.5,
                   help="identity loss weight, as a fraction of --lambda-cycle (0: off)")
    p.add_argument("--pool-size", type=int, default=50, help="history of fakes shown to D (0: none)")
    p.add_argument("--no-ema", action="store_true", help="ship the raw G_AB instead of its EMA")
    p.add_argument("--no-augment", action="store_true", help="switch off flip/zoom/shift")
    add_loop_args(p, batch_size=1)
    declare_io(p, inputs=["photos", "styles"], outputs={"runs": "parent"})
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from ..errors import InputError
    from ..training.cyclegan_task import CycleGANConfig, CycleGANTask, cyclegan_augment
    from ..training.loop import train

    for folder in (args.photos, args.styles):
        if not folder.is_dir():
            raise InputError(f"not a folder: {folder}")
    aug = cyclegan_augment()
    if args.no_augment:
        aug = replace(aug, flip=False, scale=(1.0, 1.0), translate=0.0)
    cfg = CycleGANConfig(
        photos=str(args.photos), styles=str(args.styles), size=args.size, base_channels=args.base_channels,
        n_blocks=args.n_blocks, d_channels=args.d_channels, lr=args.lr, lambda_cycle=args.lambda_cycle,
        lambda_identity=args.lambda_identity, pool_size=args.pool_size, ema=not args.no_ema,
        val_fraction=args.val_fraction, augment=aug, seed=args.seed,
    )
    result = train(CycleGANTask(cfg), loop_config(args), runs_root=args.runs, resume=args.resume,
                   device=args.device)
    print(f"run folder: {result.run_dir} (step {result.step}/{args.steps})")
    return result.exit_code  # 143 / 130 when SIGTERM / Ctrl-C stopped it (after a checkpoint)
