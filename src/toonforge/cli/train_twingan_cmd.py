"""``toonforge train-twingan``: TwinGAN (shared encoder, per-domain norms) on unpaired folders."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..io.outputs import declare_io
from .loop_args import add_loop_args, loop_config


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train-twingan",
        help="train TwinGAN (one encoder and generator for photo and style; per-domain norms)",
        description="Unpaired: PHOTOS and STYLES need not match. One encoder and one progressive generator "
        "serve both domains; only the generator's normalization parameters differ per domain. Each checkpoint "
        "writes generator.safetensors (the EMA model; its default forward is photo -> style, for `toonforge "
        "translate`; `toonforge twin-search` uses its shared embedding) and, when the validation FD improves, "
        "best_generator.safetensors into the run folder under -o/--output.",
    )
    p.add_argument("--photos", type=Path, required=True, help="folder of real photos (domain 'photo')")
    p.add_argument("--styles", type=Path, required=True, help="folder of style images (domain 'style')")
    p.add_argument("--base-channels", type=int, default=32, help="generator/encoder channels at full size")
    p.add_argument("--max-channels", type=int, default=256, help="cap on channels at low resolutions")
    p.add_argument("--embed-dim", type=int, default=256, help="length of the shared embedding")
    p.add_argument("--norm", choices=["instance", "batch"], default="instance",
                   help="kind of the per-domain normalization")
    p.add_argument("--skip-max-res", type=int, default=None,
                   help="largest resolution with a U-Net skip (default: half of --size; 0: no skips)")
    p.add_argument("--d-channels", type=int, default=64, help="discriminator base channels")
    p.add_argument("--d-layers", type=int, default=3, help="stride-2 layers of each patch discriminator")
    p.add_argument("--gan-loss", choices=["lsgan", "hinge", "nonsaturating"], default="lsgan",
                   help="adversarial loss kind")
    p.add_argument("--lr", type=float, default=2e-4, help="Adam learning rate of all nets")
    p.add_argument("--norm-lr-mult", type=float, default=1.0,
                   help="learning-rate multiplier of the per-domain norm parameters (where the domains differ)")
    p.add_argument("--lambda-rec", type=float, default=10.0, help="weight of the L1 of both reconstructions")
    p.add_argument("--lambda-rec-gan", type=float, default=1.0, help="weight of the GAN loss of both reconstructions")
    p.add_argument("--lambda-gan", type=float, default=1.0, help="weight of the photo -> style GAN loss")
    p.add_argument("--lambda-cycle", type=float, default=10.0, help="weight of the photo -> style -> photo L1")
    p.add_argument("--grow-steps", type=int, default=0,
                   help="progressive growing: steps per resolution from --start-res up (0: full size throughout)")
    p.add_argument("--start-res", type=int, default=8, help="first resolution when growing")
    p.add_argument("--no-augment", action="store_true", help="switch off flip/zoom/shift")
    add_loop_args(p, batch_size=8)
    p.add_argument("-o", "--output", type=Path, default=None,
                   help="where numbered run folders go (same as --runs; wins over it)")
    declare_io(p, inputs=["photos", "styles", "resume"], outputs={"runs": "parent", "output": "parent"})
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from ..errors import InputError
    from ..training.loop import train
    from ..training.twingan_task import TwinGANConfig, TwinGANTask

    for folder in (args.photos, args.styles):
        if not folder.is_dir():
            raise InputError(f"not a folder: {folder}")
    cfg = TwinGANConfig(
        photos=str(args.photos), styles=str(args.styles), size=args.size, base_channels=args.base_channels,
        max_channels=args.max_channels, embed_dim=args.embed_dim, norm=args.norm, skip_max_res=args.skip_max_res,
        d_channels=args.d_channels, d_layers=args.d_layers, gan_loss=args.gan_loss, lr=args.lr,
        norm_lr_mult=args.norm_lr_mult, lambda_rec=args.lambda_rec, lambda_rec_gan=args.lambda_rec_gan,
        lambda_gan=args.lambda_gan, lambda_cycle=args.lambda_cycle, grow_steps=args.grow_steps,
        start_res=args.start_res,
        val_fraction=args.val_fraction, seed=args.seed,
    )
    if args.no_augment:
        cfg = replace(cfg, augment=None)
    runs = args.output if args.output is not None else args.runs
    result = train(TwinGANTask(cfg), loop_config(args), runs_root=runs, resume=args.resume, device=args.device)
    print(f"run folder: {result.run_dir} (step {result.step}/{args.steps})")
    return 0
