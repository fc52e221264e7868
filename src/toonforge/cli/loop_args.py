"""Options shared by the stage-2 training commands (data split, loop, device)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_loop_args(p: argparse.ArgumentParser, *, size: int = 256, steps: int = 20000, batch_size: int = 8,
                  size_multiple: int = 8, every: int = 500) -> None:
    """The options every stage-2 trainer shares (data split, loop, device); see :func:`loop_config`."""
    p.add_argument("--size", type=int, default=size, help=f"training image size (multiple of {size_multiple})")
    p.add_argument("--steps", type=int, default=steps, help="total training steps")
    p.add_argument("--batch-size", type=int, default=batch_size, help="images per domain per step, per process")
    p.add_argument("--val-fraction", type=float, default=0.05,
                   help="share of each folder held out for validation (0: no validation)")
    p.add_argument("--workers", type=int, default=0, help="data loader workers")
    p.add_argument("--runs", type=Path, default=Path("runs"), help="where numbered run folders go")
    p.add_argument("--resume", type=Path, default=None, help="run folder (or checkpoint) to continue")
    p.add_argument("--max-minutes", type=float, default=None, help="stop cleanly with a checkpoint after this long")
    p.add_argument("--ema-decay", type=float, default=0.999, help="EMA decay of the shipped generator")
    add_lr_decay_arg(p)
    p.add_argument("--checkpoint-every", type=int, default=every, help="steps between checkpoints")
    p.add_argument("--eval-every", type=int, default=every, help="steps between validations (0: never)")
    p.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    p.add_argument("--seed", type=int, default=0, help="seed of weights, data order and augmentation")
    p.add_argument("--quiet", action="store_true", help="no progress bar (the result lines are still printed)")


def positive_float(text: str) -> float:
    """An argparse type: a finite number above 0 (learning rates, weights that must act)."""
    import math

    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (math.isfinite(v) and v > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number above 0, got {text}")
    return v


def add_lr_decay_arg(p: argparse.ArgumentParser) -> None:
    """``--lr-decay-steps``, for every trainer on the shared loop (``LoopConfig.lr_decay_steps``)."""
    p.add_argument("--lr-decay-steps", type=int, default=0,
                   help="learning rates fall linearly over the last this many of --steps (0: constant); "
                        "a resume may add or change it")


def loop_config(args: argparse.Namespace):  # -> LoopConfig (imported lazily)
    """The ``LoopConfig`` of the options added by :func:`add_loop_args`."""
    from ..training.loop import LoopConfig

    return LoopConfig(total_steps=args.steps, batch_size=args.batch_size, num_workers=args.workers,
                      checkpoint_every=args.checkpoint_every, eval_every=args.eval_every, seed=args.seed,
                      max_minutes=args.max_minutes, ema_decay=args.ema_decay,
                      lr_decay_steps=args.lr_decay_steps, progress=not args.quiet)
