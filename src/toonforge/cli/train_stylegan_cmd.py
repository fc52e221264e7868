"""``toonforge train-stylegan``: train StyleGAN2 on a style folder, from scratch or by transfer."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..io.outputs import declare_io
from .loop_args import positive_float
from .pickle_args import add_allow_pickle
from .vocabulary import alias, positional_input

_ARCH_FLAGS = {"size": "--size", "style_dim": "--style-dim", "n_mlp": "--n-mlp",
               "channel_multiplier": "--channel-multiplier", "channel_max": "--channel-max"}


def _res_scale(text: str) -> tuple[int, float]:
    try:
        res, mult = text.split("=")
        return int(res), float(mult)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected RES=MULT (e.g. 8=0.1), got {text!r}") from None


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train-stylegan",
        help="train a StyleGAN2 generator on a folder of style images (stage 1)",
        description="From scratch, or as transfer learning from --resume-from (a generator .safetensors or "
        "a rosinality .pt with g_ema/g/d; the architecture is read from it). Uses the non-saturating loss, "
        "lazy R1 and path-length regularisation, an EMA generator, adaptive augmentation (ADA), FreezeD, "
        "per-layer learning rates and early stopping on FD-MNv2 to the style set. Runs go to numbered "
        "folders under --runs; --resume continues one (repeat the same options).",
    )
    a = p.add_argument
    positional_input(p, "data", "--data", type=Path, metavar="DATA",
                     help="folder of style images (centre-cropped to squares)")
    a("--size", type=int, default=None, help="resolution, a power of two (default: the source's, else 256)")
    a("--resume-from", type=Path, default=None,
      help="source for transfer learning: generator .safetensors, rosinality .pt (its d, optimizer states "
      "and ADA p are kept where they fit), or NVlabs .pkl with --allow-pickle")
    a("--source-d", type=Path, default=None,
      help="discriminator to start from (default: the one in --resume-from, when it holds one), "
      "e.g. the D.safetensors of toonforge convert")
    a("--steps", type=int, default=10000, help="training steps (one batch each)")
    a("--batch-size", type=int, default=8, help="per process")
    a("--lr", type=positive_float, default=0.002, help="Adam learning rate of G and D")
    a("--lr-mapping", type=positive_float, default=0.01,
      help="mapping network's rate relative to the synthesis layers (0 freezes it)")
    a("--lr-res", type=_res_scale, nargs="*", default=[], metavar="RES=MULT",
      help="learning-rate multipliers of G's layers by resolution, e.g. 4=0 8=0.1")
    a("--freeze-d", type=int, default=0, metavar="K", help="freeze the first K discriminator blocks (FreezeD)")
    a("--ada", action=argparse.BooleanOptionalAction, default=True, help="adaptive augmentation probability")
    a("--ada-target", type=float, default=0.6, help="target of E[sign(D(real))]")
    a("--ada-kimg", type=float, default=500.0,
      help="thousands of images for p to go 0 -> 1 (500 in the paper; e.g. 20 for short runs)")
    a("--ada-p", type=float, default=0.0, help="initial (with --no-ada: fixed) augmentation probability")
    a("--no-xflip", action="store_true", help="do not add mirrored copies of the images")
    a("--mixing", type=float, default=0.9, help="style-mixing probability")
    a("--r1", type=float, default=10.0, help="R1 weight gamma (0 disables)")
    a("--lambda-pl", dest="pl_weight", type=float, default=2.0, help="path-length weight (0 disables)")
    a("--ema-decay", type=float, default=None, help="EMA of G per step (default: half-life of 10k images)")
    a("--eval-every", type=int, default=500, help="steps between FD evaluations (0: never)")
    a("--fd-samples", type=int, default=200, help="generated images per FD evaluation (0: no evaluation)")
    a("--patience", type=int, default=0, help="stop after this many evaluations without improvement (0: never)")
    a("--checkpoint-every", type=int, default=500, help="steps between checkpoints")
    a("--log-every", type=int, default=50, help="steps between logged losses")
    a("--runs", type=Path, default=Path("runs"), help="where numbered run folders go")
    a("--resume", type=Path, default=None, help="run folder (or checkpoint) to continue")
    a("--max-minutes", type=float, default=None, help="stop cleanly (with a checkpoint) after this long")
    a("--style-dim", type=int, default=None, help="latent width (default 512, or the source's)")
    a("--n-mlp", type=int, default=None, help="mapping layers (default 8, or the source's)")
    a("--channel-multiplier", type=int, default=None, help="default 2, or the source's")
    a("--channel-max", type=int, default=None, help="widest layer (default 512, or the source's)")
    a("--info-codes", type=int, default=0, metavar="K",
      help="Info-StyleGAN: K >= 2 categorical codes beside z, recovered by a head on D (default 0: plain StyleGAN2)")
    a("--lambda-info", type=float, default=1.0, help="--info-codes: weight of the mutual-information loss (default 1)")
    a("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    a("--seed", type=int, default=0, help="seed of weights, data order and augmentation")
    a("--quiet", action="store_true", help="no progress bar (the result lines are still printed)")
    a("--workers", type=int, default=0, help="data loader workers")
    add_allow_pickle(p)
    alias(p, "--lambda-pl", "--pl-weight")
    declare_io(p, inputs=["data", "resume_from", "source_d"], outputs={"runs": "parent"})
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json

    from ..errors import InputError
    from ..training.loop import LoopConfig, train
    from ..training.stylegan_task import StyleGANTask, StyleGANTrainConfig

    if not args.data.is_dir():
        raise InputError(f"not a folder: {args.data}")
    arch = {k: getattr(args, k) for k in _ARCH_FLAGS if getattr(args, k) is not None}
    cfg = StyleGANTrainConfig(
        data=str(args.data), **arch, resume_from=str(args.resume_from) if args.resume_from else None,
        source_d=str(args.source_d) if args.source_d else None, allow_pickle=args.allow_pickle,
        xflip=not args.no_xflip, lr=args.lr, lr_mapping=args.lr_mapping, lr_resolution=dict(args.lr_res),
        r1=args.r1, pl_weight=args.pl_weight, mixing=args.mixing, freeze_d=args.freeze_d, ada=args.ada,
        ada_target=args.ada_target, ada_p=args.ada_p, ada_kimg=args.ada_kimg, fd_samples=args.fd_samples,
        patience=args.patience, eval_seed=args.seed + 1234,
    )
    if args.info_codes:
        from ..training.info_stylegan import InfoStyleGANTask

        task = InfoStyleGANTask(cfg, args.info_codes, args.lambda_info)
    else:
        task = StyleGANTask(cfg)
    for key, given in arch.items():
        if getattr(task.cfg, key) != given:
            raise InputError(f"{_ARCH_FLAGS[key]} {given} does not match the source generator "
                             f"({key} = {getattr(task.cfg, key)}); drop the option or pick another source")
    ema = args.ema_decay if args.ema_decay is not None else 0.5 ** (args.batch_size / 10000)
    loop = LoopConfig(
        total_steps=args.steps, batch_size=args.batch_size, num_workers=args.workers,
        log_every=args.log_every, checkpoint_every=args.checkpoint_every, eval_every=args.eval_every,
        ema_decay=ema, seed=args.seed, max_minutes=args.max_minutes, progress=not args.quiet,
    )
    result = train(task, loop, runs_root=args.runs, resume=args.resume, device=args.device)
    how = ", stopped early" if result.stopped_early else ""
    print(f"run folder: {result.run_dir} (step {result.step}/{args.steps}{how})")
    best, last = result.run_dir / "best.safetensors", result.run_dir / "last.safetensors"
    if best.is_file():
        info = json.loads((result.run_dir / "best.json").read_text(encoding="utf-8"))
        print(f"best generator: {best} (val/fd {info['val/fd']:.4g} at step {info['step']}); last: {last}")
    else:
        print(f"generator (EMA, no FD evaluation yet): {last}")
    return result.exit_code  # 143 / 130 when SIGTERM / Ctrl-C stopped it (after a checkpoint)
