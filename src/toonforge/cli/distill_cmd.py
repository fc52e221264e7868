"""``toonforge distill``: a teacher style teaches a small translator on real photos (stage 3 in one command)."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from ..io.outputs import declare_io
from ..models.translator_tiers import TIERS
from .vocabulary import alias


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "distill", help="distill any style into a small, fast translator style",
        description="Split --photos into training and held-out photos, make pairs with the teacher (aligned "
        "faces through its head network, whole photos through its full-image network), train the translator "
        "of --tier on them (shared loop, resumable), export it to ONNX, evaluate student against teacher on "
        "the held-out photos (FD-MNv2 to the teacher's outputs, identity, speed) and write the card. "
        "Everything but the finished style lives in --work; rerun the same command to continue a stopped run.",
    )
    p.add_argument("teacher", metavar="TEACHER_STYLE", nargs="+",
                   help="teacher style: a name or a style folder; two or more train one multi-style student "
                   "(pairs per teacher in WORK/pairs/<teacher>/; ends after training with its model file)")
    p.add_argument("--photos", type=Path, required=True, help="folder of real photos")
    p.add_argument("-o", "--output", type=Path, required=True, help="student style folder to write (must not exist)")
    p.add_argument("--work", type=Path, default=None,
                   help="work folder for pairs, runs and eval (default: runs/distill-<output name>)")
    p.add_argument("--tier", choices=list(TIERS), default="small", help="student network size (default small)")
    p.add_argument("--size", type=int, default=256, help="pair side and student head resolution (default 256)")
    p.add_argument("--crop", choices=["both", "aligned", "full"], default="both",
                   help="pairs from aligned faces, whole photos, or both (default both)")
    p.add_argument("--steps", type=int, default=2000, help="training steps (default 2000)")
    p.add_argument("--batch-size", type=int, default=8, help="pairs per step (default 8)")
    p.add_argument("--lr", type=float, default=5e-4, help="student learning rate (default 5e-4)")
    p.add_argument("--lambda-perceptual", dest="w_perceptual", type=float, default=0.3,
                   help="MobileNetV2 perceptual loss weight (default 0.3; 0 off)")
    p.add_argument("--lambda-gan", dest="w_gan", type=float, default=0.05,
                   help="GAN loss weight (default 0.05; 0 off)")
    alias(p, "--lambda-perceptual", "--w-perceptual")
    alias(p, "--lambda-gan", "--w-gan")
    p.add_argument("--gan-start", type=int, default=500, help="steps before the GAN loss starts (default 500)")
    p.add_argument("--heldout", type=float, default=0.1, help="fraction of photos held out for the eval (default 0.1)")
    p.add_argument("--no-eval", action="store_true", help="skip the student-vs-teacher evaluation")
    p.add_argument("--eval-size", type=int, default=256, help="long side outputs are measured at (default 256)")
    p.add_argument("--detector", default="dlib", help="face detector, or 'none' (then --crop full; default dlib)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    p.add_argument("--max-minutes", type=float, default=None, help="stop training cleanly after this long")
    p.add_argument("--checkpoint-every", type=int, default=200, help="steps between checkpoints (default 200)")
    p.add_argument("--seed", type=int, default=0, help="split, training and augmentation seed (default 0)")
    p.add_argument("--crop-size", type=int, default=None,
                   help="train on random CROP x CROP windows of the pairs (multiple of 16; default whole pairs)")
    p.add_argument("--tone-augment", type=float, default=0.0,
                   help="probability that a pair's photo and target are darkened and warmed alike (default 0)")
    p.add_argument("--quiet", action="store_true", help="no progress bars or summaries")
    declare_io(p, inputs=["style:teacher", "photos"], outputs={"output": "folder", "work": "own-folder"})
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..training.distill import DistillConfig, distill

    work = args.work or Path("runs") / f"distill-{args.output.name}"
    teachers = list(args.teacher)
    cfg = DistillConfig(
        teacher=",".join(teachers), photos=str(args.photos), output=str(args.output), work=str(work), tier=args.tier,
        size=args.size, crop=args.crop, steps=args.steps, batch_size=args.batch_size, lr=args.lr,
        w_perceptual=args.w_perceptual, w_gan=args.w_gan, gan_start=args.gan_start, heldout=args.heldout,
        seed=args.seed, evaluate=not args.no_eval, eval_size=args.eval_size, detector=args.detector,
        device=args.device, max_minutes=args.max_minutes, checkpoint_every=args.checkpoint_every, quiet=args.quiet,
        crop_size=args.crop_size, tone_augment=args.tone_augment,
    )
    command = "toonforge " + shlex.join(getattr(args, "argv", []))
    if len(teachers) > 1:
        from ..training.distill_multi import distill_many

        distill_many(cfg, teachers, command=command)
        return 0
    result = distill(cfg, command=command)
    if result.style is not None and not args.quiet:
        print(f"student style written to {result.style} (work folder {result.work})")
    return 0
