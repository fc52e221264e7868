"""``toonforge train-ugatit``: unpaired photo -> style translation with U-GAT-IT (stage 2)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..io.outputs import declare_io
from .loop_args import add_loop_args, loop_config, positive_float
from .vocabulary import alias


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train-ugatit",
        help="train U-GAT-IT (photo <-> style, unpaired), optionally keeping the background",
        description="Trains two generators and four discriminators on a folder of photos and a "
        "folder of style images (no pairing needed). The EMA photo->style generator is written to "
        "<run>/generator.safetensors at every checkpoint, the best-FD one to "
        "best_generator.safetensors. --background region keeps pixels outside a face-and-hair "
        "mask (computed with dlib into <runs>/masks-<photos>-<size> unless --masks is given); "
        "--background mask lets the generator predict its own blend mask.",
    )
    p.add_argument("--photos", type=Path, required=True, help="folder of real photos (domain A)")
    p.add_argument("--styles", type=Path, required=True, help="folder of style images (domain B)")
    light = p.add_mutually_exclusive_group()
    light.add_argument("--light", dest="light", action="store_true", default=True,
                       help="light generator, 10.6M parameters (default)")
    light.add_argument("--full", dest="light", action="store_false",
                       help="full generator, 279M parameters at 256 px (needs a GPU)")
    p.add_argument("--background", choices=["none", "region", "mask"], default="none",
                   help="keep the background: none, region (L1 outside the face region) or mask (a learnt mask branch)")
    p.add_argument("--masks", type=Path, default=None, help="face/hair masks (same stems as photos)")
    p.add_argument("--lambda-background", dest="w_background", type=float, default=10.0,
                   help="weight of the background L1")
    p.add_argument("--lambda-mask", dest="w_mask", type=float, default=1.0,
                   help="weight of the mask-branch regularizer")
    p.add_argument("--lambda-identity", dest="identity_weight", type=float, default=10.0,
                   help="identity L1 weight: higher keeps more of the photo, lower stylizes harder")
    p.add_argument("--lambda-cycle", dest="w_cycle", type=float, default=10.0, help="cycle-consistency L1 weight")
    p.add_argument("--lambda-cam", dest="w_cam", type=float, default=1000.0,
                   help="weight of the CAM (attention) classifier loss")
    p.add_argument("--base-channels", type=int, default=64, help="generator base channels")
    p.add_argument("--n-blocks", type=int, default=4, help="residual blocks in encoder and decoder")
    p.add_argument("--d-channels", type=int, default=64, help="discriminator base channels")
    p.add_argument("--d-global-layers", type=int, default=7, help="global discriminator depth (needs size >= 96)")
    p.add_argument("--d-local-layers", type=int, default=5, help="local discriminator depth")
    p.add_argument("--lr", type=positive_float, default=1e-4, help="Adam learning rate of G and D")
    p.add_argument("--lr-decay", action="store_true",
                   help="U-GAT-IT's schedule: --lr-decay-steps set to the second half of --steps "
                        "(give one of the two)")
    add_loop_args(p, steps=100000, batch_size=1, size_multiple=4, every=1000)
    alias(p, "--lambda-background", "--w-background")
    alias(p, "--lambda-mask", "--w-mask")
    alias(p, "--lambda-identity", "--identity-weight")
    alias(p, "--lambda-cycle", "--w-cycle")
    alias(p, "--lambda-cam", "--w-cam")
    declare_io(p, inputs=["photos", "styles", "masks"], outputs={"runs": "parent"})
    p.set_defaults(func=run)


def _ensure_masks(args: argparse.Namespace) -> Path:
    """The mask folder to use: --masks, or masks computed (resumably) under --runs."""
    from ..face.region_mask import write_region_masks

    if args.masks is not None:
        return args.masks
    folder = args.runs / f"masks-{args.photos.resolve().name}-{args.size}"
    report = write_region_masks(args.photos, folder, size=args.size, progress=True)
    print(f"masks in {folder}: {report.written} written, {report.skipped} already there")
    if report.no_face:
        print(f"no face found in {len(report.no_face)} photos (central ellipse used), "
              f"e.g. {', '.join(report.no_face[:3])}")
    return folder


def run(args: argparse.Namespace) -> int:
    from ..errors import InputError
    from ..training.loop import train
    from ..training.ugatit_task import UGATITTask, UGATITTrainConfig

    if args.lr_decay and args.lr_decay_steps:
        raise InputError("give --lr-decay (the second half of --steps) or --lr-decay-steps, not both")
    for folder in (args.photos, args.styles):
        if not folder.is_dir():
            raise InputError(f"not a folder: {folder}")
    if args.masks is not None and not args.masks.is_dir():
        raise InputError(f"not a folder: {args.masks}")
    masks = args.masks
    if args.background == "region":
        masks = _ensure_masks(args)
    cfg = UGATITTrainConfig(
        photos=str(args.photos), styles=str(args.styles), size=args.size, light=args.light,
        base_channels=args.base_channels, n_blocks=args.n_blocks, d_channels=args.d_channels,
        d_global_layers=args.d_global_layers, d_local_layers=args.d_local_layers,
        lr=args.lr, w_cycle=args.w_cycle,
        identity_weight=args.identity_weight, w_cam=args.w_cam, background=args.background,
        masks=str(masks) if masks is not None else None, w_background=args.w_background,
        w_mask=args.w_mask, val_fraction=args.val_fraction, seed=args.seed,
    )
    task = UGATITTask(cfg)
    if args.lr_decay:
        args.lr_decay_steps = args.steps - args.steps // 2
    loop = loop_config(args)
    result = train(task, loop, runs_root=args.runs, resume=args.resume, device=args.device)
    print(f"run folder: {result.run_dir} (step {result.step}/{args.steps}); "
          f"generator: {result.run_dir / 'generator.safetensors'}")
    return result.exit_code  # 143 / 130 when SIGTERM / Ctrl-C stopped it (after a checkpoint)
