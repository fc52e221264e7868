"""``toonforge train-encoder``: train AgileGAN's hierarchical Z+ encoder for a StyleGAN2 generator (stage 1)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import InputError
from ..io.outputs import declare_io
from .loop_args import positive_float
from .pickle_args import add_allow_pickle
from .vocabulary import alias


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train-encoder", help="train a Z+ encoder (AgileGAN) for a StyleGAN2 generator",
        description="Train the hierarchical variational encoder (images -> Z+ codes) on images the generator "
        "draws from known codes: no photos needed. Loss: pixel MSE of the re-generated image + MSE of the "
        "predicted code + --lambda-kl * KL to N(0, I). Use the result with `toonforge invert --encoder`.",
    )
    p.add_argument("generator", type=Path, metavar="GENERATOR", help="generator weights (.safetensors, .pt)")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="ENCODER",
                   help="encoder file to write (.safetensors; never overwritten)")
    p.add_argument("--steps", type=int, default=1000, help="training steps (default 1000)")
    p.add_argument("--batch-size", type=int, default=8, help="generated images per step (default 8)")
    p.add_argument("--lr", type=positive_float, default=1e-3, help="Adam learning rate (default 1e-3)")
    p.add_argument("--lambda-kl", dest="kl_weight", type=float, default=1e-3,
                   help="weight beta of the KL term (default 1e-3)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    p.add_argument("--seed", type=int, default=0, help="seed of the encoder init and the training codes")
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    add_allow_pickle(p)
    alias(p, "--lambda-kl", "--kl-weight")
    declare_io(p, inputs=["generator"], outputs={"output": "file"})
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ..export.runtime import resolve_device
    from ..models.stylegan2 import load_generator
    from ..stylegan.encoder import save_encoder, train_encoder

    out: Path = args.output
    if out.suffix.lower() != ".safetensors":
        raise InputError(f"the encoder file must end in .safetensors, got {out.name}")
    if out.exists():
        raise InputError(f"{out} already exists; choose another -o (nothing is overwritten)")
    if args.steps < 1 or args.batch_size < 1:
        raise InputError(f"--steps and --batch-size must be at least 1, got {args.steps}, {args.batch_size}")
    G = load_generator(args.generator, allow_pickle=args.allow_pickle).to(resolve_device(args.device))
    bar = tqdm(total=args.steps, unit="step", disable=args.quiet, file=sys.stderr)

    def progress(step: int, total: int, record: dict[str, float]) -> None:
        bar.update(1)
        if step % 10 == 0 or step == total:
            bar.set_postfix(loss=f"{record['loss']:.4g}", kl=f"{record['kl']:.3g}")

    try:
        encoder, history = train_encoder(G, steps=args.steps, batch=args.batch_size, lr=args.lr,
                                         beta=args.kl_weight, seed=args.seed, progress=progress)
    finally:
        bar.close()
    if out.exists():  # appeared while we trained
        raise InputError(f"{out} appeared during training; not overwriting it")
    save_encoder(out, encoder.cpu())
    if not args.quiet:
        last = history[-1]
        print(f"encoder: {out} ({args.steps} steps, final loss {last['loss']:.4g}: pixel {last['pixel']:.4g}, "
              f"latent {last['latent']:.4g}, kl {last['kl']:.4g})", file=sys.stderr)
    return 0
