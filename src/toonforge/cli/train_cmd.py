"""``toonforge train-translator``: train the lightweight translator on paired folders."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..io.outputs import declare_io
from ..models.translator_tiers import TIERS
from .loop_args import add_lr_decay_arg, positive_float
from .vocabulary import alias


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train-translator",
        help="train the lightweight translator on (photo, stylized) pairs",
        description="Pairs are files with the same name stem in PHOTOS and TARGETS. Runs go to "
        "numbered folders under --runs; --resume continues one after a stop or a kill. "
        "Multi-GPU/multi-node: launch with torchrun.",
    )
    p.add_argument("--photos", dest="inputs", type=Path, required=True, help="folder of input photos")
    p.add_argument("--targets", type=Path, required=True,
                   help="folder of stylized targets (same names); with --styles, one sub-folder per style")
    p.add_argument("--styles", default=None,
                   help="comma-separated style names (two or more): train one multi-style translator on "
                   "TARGETS/<style>/ for each, batches mixing the styles (default: one style)")
    p.add_argument("--allow-missing-targets", action="store_true",
                   help="train even when under 90%% of the inputs have a readable target (default: refuse)")
    p.add_argument("--tier", choices=list(TIERS), default="small",
                   help="network size; -hd adds a full-resolution last stage for crisper lines, "
                   "-subpixel moves the head to half resolution for speed")
    p.add_argument("--init-from", type=Path, default=None,
                   help="start from a train-translator checkpoint (generator EMA and discriminator) or a "
                   "translator style folder; a -hd or -subpixel tier may start from its base tier's weights")
    p.add_argument("--size", type=int, default=256, help="training crop size (multiple of 16)")
    p.add_argument("--steps", type=int, default=4000, help="total training steps")
    p.add_argument("--batch-size", type=int, default=8, help="per process")
    p.add_argument("--lr", type=positive_float, default=5e-4, help="generator learning rate")
    p.add_argument("--lambda-perceptual", dest="w_perceptual", type=float, default=0.3,
                   help="0 disables (no MobileNetV2 weights needed)")
    p.add_argument("--lambda-gan", dest="w_gan", type=float, default=0.05, help="0 disables the discriminator")
    p.add_argument("--gan-kind", choices=["lsgan", "hinge", "nonsaturating"], default="lsgan", help="adversarial loss")
    p.add_argument("--gan-start", type=int, default=500, help="steps of pixel/perceptual warm-up")
    p.add_argument("--no-edge-promoting", action="store_true",
                   help="no blurred-edge copies of the targets as extra fakes for the discriminator")
    p.add_argument("--no-augment", action="store_true", help="no flips or crops of the pairs")
    p.add_argument("--crop-size", type=int, default=None,
                   help="train on random CROP x CROP windows (multiple of 16), the same on photo and target; "
                   "validation stays on whole images (default: whole images)")
    p.add_argument("--tone-augment", type=float, default=0.0,
                   help="probability that a pair's photo and target are both darkened and warmed the same way "
                   "(exposure x0.35-0.9 and a brown tint in linear light), for clean dim and dark skin")
    p.add_argument("--val-fraction", type=float, default=0.05, help="share of the pairs held out for validation")
    p.add_argument("--workers", type=int, default=0, help="data loader workers")
    p.add_argument("--runs", type=Path, default=Path("runs"), help="where numbered run folders go")
    p.add_argument("--resume", type=Path, default=None, help="run folder (or checkpoint) to continue")
    p.add_argument("--max-minutes", type=float, default=None, help="stop cleanly after this long")
    p.add_argument("--ema-decay", type=float, default=0.998, help="EMA of the generator (the shipped weights)")
    p.add_argument("--ema-start", type=int, default=None,
                   help="the EMA copies the weights until this step (default: --gan-start)")
    add_lr_decay_arg(p)
    p.add_argument("--checkpoint-every", type=int, default=200, help="steps between checkpoints")
    p.add_argument("--eval-every", type=int, default=200, help="steps between validations")
    p.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    p.add_argument("--seed", type=int, default=0, help="seed of weights, data order and augmentation")
    p.add_argument("--quiet", action="store_true", help="no progress bar (the result lines are still printed)")
    p.add_argument("-o", "--output", dest="style_out", type=Path, default=None,
                   help="write a style folder from the EMA generator when training ends (with --styles a "
                   "multi-style folder; a style named like an installed one takes that style's own "
                   "post-processing: keep_colours, reshape, skin cleanup)")
    p.add_argument("--style-name", default=None, help="name of that style (default: folder name)")
    p.add_argument("--head-resolution", type=int, default=256, help="recorded in the style's config")
    p.add_argument("--full-resolution", type=int, default=512, help="recorded in the style's config")
    alias(p, "--photos", "--inputs")
    alias(p, "--lambda-perceptual", "--w-perceptual")
    alias(p, "--lambda-gan", "--w-gan")
    alias(p, "--output", "--style-out")
    declare_io(p, inputs=["inputs", "targets", "init_from"], outputs={"runs": "parent", "style_out": "folder"})
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from ..errors import InputError
    from ..training.augment import AugmentConfig
    from ..training.loop import LoopConfig, train
    from ..training.translator_task import TranslatorTask, TranslatorTrainConfig

    if args.style_out is not None and args.style_out.exists():
        raise InputError(f"{args.style_out} already exists; choose a new -o/--output")
    for folder in (args.inputs, args.targets):
        if not folder.is_dir():
            raise InputError(f"not a folder: {folder}")
    aug = AugmentConfig()
    if args.no_augment:
        aug = replace(aug, flip=False, scale=(1.0, 1.0), rotate_deg=0.0, translate=0.0, color_jitter=0.0)
    cfg = TranslatorTrainConfig(
        inputs=str(args.inputs), targets=str(args.targets), tier=args.tier, size=args.size,
        lr_g=args.lr, w_perceptual=args.w_perceptual, w_gan=args.w_gan, gan_kind=args.gan_kind,
        gan_start=args.gan_start, edge_promoting=not args.no_edge_promoting,
        val_fraction=args.val_fraction, augment=aug, seed=args.seed,
        init_from=None if args.init_from is None else str(args.init_from),
        crop_size=args.crop_size, tone_augment=args.tone_augment,
    )
    if args.styles is not None:
        from ..training.multi_translator_task import MultiTranslatorTask, parse_styles

        styles = parse_styles(args.styles, args.targets)
        task = MultiTranslatorTask(cfg, styles, allow_missing_targets=args.allow_missing_targets)
    else:
        task = TranslatorTask(cfg, allow_missing_targets=args.allow_missing_targets)
    loop = LoopConfig(
        total_steps=args.steps, batch_size=args.batch_size, num_workers=args.workers,
        checkpoint_every=args.checkpoint_every, eval_every=args.eval_every, seed=args.seed,
        max_minutes=args.max_minutes, ema_decay=args.ema_decay, lr_decay_steps=args.lr_decay_steps,
        ema_start=args.gan_start if args.ema_start is None else args.ema_start, progress=not args.quiet,
    )
    result = train(task, loop, runs_root=args.runs, resume=args.resume, device=args.device)
    print(f"run folder: {result.run_dir} (step {result.step}/{args.steps})")
    if args.styles is not None:
        from ..training.multi_translator_task import save_generator

        print(f"generator (EMA, styles {','.join(task.styles)}): {save_generator(task, result.run_dir, result.step)}")
    if args.style_out is not None and result.step >= args.steps and args.styles is not None:
        from ..training.export_style import installed_settings, write_multi_style

        path = write_multi_style(
            task.generator(), args.style_out, installed_settings(task.styles),
            name=args.style_name or args.style_out.name,
            head_resolution=args.head_resolution, full_resolution=args.full_resolution,
        )
        print(f"multi-style folder written to {path}")
    elif args.style_out is not None and result.step >= args.steps:
        from ..training.export_style import write_translator_style

        path = write_translator_style(
            task, result, args.style_out, name=args.style_name or args.style_out.name,
            head_resolution=args.head_resolution, full_resolution=args.full_resolution,
        )
        print(f"style written to {path}")
    elif args.style_out is not None:
        print("training stopped before the last step; resume it to write the style")
    return result.exit_code  # 143 / 130 when SIGTERM / Ctrl-C stopped it (after a checkpoint)
