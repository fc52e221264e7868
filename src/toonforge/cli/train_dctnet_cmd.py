"""``toonforge train-dctnet``: DCT-Net texture translation (stage 2) on unpaired folders."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..io.outputs import declare_io
from .loop_args import add_loop_args, loop_config, positive_float
from .pickle_args import add_allow_pickle
from .vocabulary import alias


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train-dctnet",
        help="train DCT-Net's texture translator (photo -> style) on unpaired folders",
        description="Unpaired: PHOTOS and STYLES need not match. With --style-generator (a "
        "stage-1 StyleGAN2 file) N calibration style images are sampled first (resumable) and "
        "added to the style set. Each checkpoint writes generator.safetensors (EMA) and, when "
        "the validation FD improves, best_generator.safetensors into the run folder.",
    )
    p.add_argument("--photos", type=Path, required=True, help="folder of real photos (domain A)")
    p.add_argument("--styles", type=Path, required=True, help="folder of style images (domain B)")
    p.add_argument("--style-generator", type=Path, default=None,
                   help="stage-1 StyleGAN2 generator file for content calibration (optional)")
    p.add_argument("--calibration-samples", type=int, default=1000,
                   help="style images to sample from --style-generator")
    p.add_argument("--calibration-truncation", type=float, default=0.7,
                   help="truncation of the calibration samples (1 = none)")
    p.add_argument("--calibration-dir", type=Path, default=None,
                   help="cache folder of the samples (default: RUNS/calibration/<digest>-...)")
    p.add_argument("--channels", type=int, default=32, help="U-Net base channels")
    p.add_argument("--n-blocks", dest="num_blocks", type=int, default=4, help="U-Net residual blocks")
    p.add_argument("--d-channels", type=int, default=32, help="discriminator base channels")
    p.add_argument("--lr", type=positive_float, default=2e-4, help="learning rate of G and both Ds")
    p.add_argument("--lambda-surface", dest="w_surface", type=float, default=1.0, help="weight of the surface GAN term")
    p.add_argument("--lambda-texture", dest="w_texture", type=float, default=1.0, help="weight of the texture GAN term")
    p.add_argument("--lambda-content", dest="w_content", type=float, default=2.0,
                   help="weight of the MobileNetV2 content loss (0: no ImageNet weights needed)")
    p.add_argument("--lambda-tv", dest="w_tv", type=float, default=0.1, help="weight of the total variation loss")
    p.add_argument("--lambda-colour", dest="w_colour", type=float, default=0.0,
                   help="weight of the low-frequency colour (chroma) loss to the photo (0: off)")
    p.add_argument("--colour-relative", action="store_true",
                   help="colour term on chroma relative to the room above the brightness: a brightened region "
                        "keeps its hue with proportionally less saturation (instead of holding the photo's)")
    p.add_argument("--lambda-projected", dest="w_projected", type=float, default=0.0,
                   help="weight of a whole-image GAN term judged on frozen ImageNet MobileNetV2 features "
                        "(0: off); a run without it can continue with it")
    p.add_argument("--projected-channels", type=int, default=64,
                   help="width of the projected discriminator's heads")
    p.add_argument("--projected-lr", type=float, default=None,
                   help="learning rate of the projected discriminator's heads (default: --lr)")
    p.add_argument("--projected-augment", type=float, default=1.0,
                   help="probability of DiffAugment's translation and cutout on the projected "
                        "discriminator's inputs (keeps its heads from memorising the style set)")
    p.add_argument("--lambda-structure", dest="w_structure", type=float, default=0.0,
                   help="weight of the structure loss: pixel L1 to the output's own superpixel flattening "
                        "(dark lines kept), for flat colour regions (0: off)")
    p.add_argument("--structure-cell", type=int, default=16,
                   help="superpixel size in pixels for --lambda-structure ((size / cell)^2 segments)")
    p.add_argument("--structure-ink", type=float, default=0.2,
                   help="for --lambda-structure: pixels this much darker (luma, on the [-1, 1] scale) than their "
                        "flattened segment are lines and stay as they are; 0: flatten everything")
    p.add_argument("--gan-start", type=int, default=0, help="steps of content-only warm-up")
    p.add_argument("--no-augment", action="store_true", help="switch off the geometry expansion")
    add_loop_args(p)
    add_allow_pickle(p)
    alias(p, "--n-blocks", "--num-blocks")
    alias(p, "--lambda-surface", "--w-surface")
    alias(p, "--lambda-texture", "--w-texture")
    alias(p, "--lambda-content", "--w-content")
    alias(p, "--lambda-tv", "--w-tv")
    alias(p, "--lambda-colour", "--w-colour")
    alias(p, "--lambda-projected", "--w-projected")
    alias(p, "--lambda-structure", "--w-structure")
    declare_io(p, inputs=["photos", "styles", "style_generator"],
               outputs={"runs": "parent", "calibration_dir": "folder"})
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from ..errors import InputError
    from ..training.dctnet_task import DCTNetConfig, DCTNetTask, default_calibration_dir, geometry_expansion
    from ..training.loop import train

    if args.w_projected < 0 or args.projected_channels < 1 or not 0 <= args.projected_augment <= 1:
        raise InputError("--lambda-projected must be >= 0, --projected-channels >= 1 and --projected-augment in [0, 1]")
    if args.projected_lr is not None and args.projected_lr <= 0:
        raise InputError(f"--projected-lr must be > 0, got {args.projected_lr}")
    for folder in (args.photos, args.styles):
        if not folder.is_dir():
            raise InputError(f"not a folder: {folder}")
    aug = geometry_expansion()
    if args.no_augment:
        aug = replace(aug, flip=False, scale=(1.0, 1.0), rotate_deg=0.0, translate=0.0)
    cal_dir = args.calibration_dir
    if args.style_generator is not None:
        if not args.style_generator.is_file():
            raise InputError(f"style generator not found: {args.style_generator}")
        if cal_dir is None:
            cal_dir = default_calibration_dir(args.runs, args.style_generator, args.calibration_truncation,
                                              args.seed, args.size)
    cfg = DCTNetConfig(
        photos=str(args.photos), styles=str(args.styles), size=args.size, channels=args.channels,
        num_blocks=args.num_blocks, d_channels=args.d_channels, lr_g=args.lr, lr_d=args.lr,
        w_surface=args.w_surface, w_texture=args.w_texture, w_content=args.w_content, w_tv=args.w_tv,
        w_colour=args.w_colour, colour_relative=args.colour_relative, w_structure=args.w_structure,
        w_projected=args.w_projected, projected_channels=args.projected_channels,
        projected_augment=args.projected_augment, lr_projected=args.projected_lr,
        structure_cell=args.structure_cell, structure_ink=args.structure_ink or None,
        gan_start=args.gan_start,
        style_generator=str(args.style_generator) if args.style_generator else None,
        allow_pickle=args.allow_pickle,
        calibration_samples=args.calibration_samples, calibration_truncation=args.calibration_truncation,
        calibration_seed=args.seed, calibration_dir=str(cal_dir) if cal_dir else None,
        val_fraction=args.val_fraction, augment=aug, seed=args.seed,
    )
    task = DCTNetTask(cfg, device=args.device)
    result = train(task, loop_config(args), runs_root=args.runs, resume=args.resume, device=args.device)
    print(f"run folder: {result.run_dir} (step {result.step}/{args.steps})")
    return result.exit_code  # 143 / 130 when SIGTERM / Ctrl-C stopped it (after a checkpoint)
