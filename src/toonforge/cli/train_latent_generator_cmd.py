"""``toonforge train-latent-generator``: a classifier on labelled photos, then one noise->z network per class."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..io.outputs import declare_io


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train-latent-generator", help="train per-class latent generators against an attribute classifier",
        description="Train a small attribute classifier on --images labelled by --labels (CSV 'name,class', name = "
        "file stem), then, with GEN and the classifier frozen, one latent generator per class mapping noise to z "
        "so that GEN's images score high on that class (cross-entropy, plus a diversity and a prior term). "
        "Writes one .safetensors file; sample from it with "
        "'toonforge sample GEN --latent-generator FILE --class NAME'.",
    )
    p.add_argument("generator", type=Path, metavar="GEN", help="the frozen StyleGAN2 generator (.safetensors, .pt)")
    p.add_argument("--images", type=Path, required=True, help="folder of labelled images")
    p.add_argument("--labels", type=Path, required=True, help="CSV file of 'name,class' rows")
    p.add_argument("-o", "--output", type=Path, required=True, help="output .safetensors file")
    p.add_argument("--classifier-steps", type=int, default=300, help="classifier training steps (default 300)")
    p.add_argument("--steps", type=int, default=200, help="training steps per class (default 200)")
    p.add_argument("--batch-size", type=int, default=16, help="batch size of both trainings (default 16)")
    p.add_argument("--lr", type=float, default=1e-3, help="latent generators' Adam learning rate (default 1e-3)")
    p.add_argument("--noise-dim", type=int, default=64, help="noise width of the latent generators (default 64)")
    p.add_argument("--lambda-diversity", type=float, default=0.1,
                   help="weight of the nearest-neighbour entropy term (default 0.1)")
    p.add_argument("--lambda-prior", type=float, default=1.0,
                   help="weight of the term keeping z's moments at N(0, 1) (default 1)")
    p.add_argument("--val-fraction", type=float, default=0.2,
                   help="share of labelled images held out for the classifier's accuracy (default 0.2)")
    p.add_argument("--seed", type=int, default=0, help="seed of everything random (default 0)")
    p.add_argument("--device", default="cpu", help="cpu only for now (default cpu)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.add_argument("--quiet", action="store_true", help="no progress messages")
    declare_io(p, inputs=["generator", "images", "labels"], outputs={"output": "file"})
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json

    from ..errors import InputError
    from ..io.checkpoints import weights_sha256
    from ..io.files import file_sha256
    from ..models.stylegan2 import load_generator
    from ..stylegan.latent_classes import save_bundle
    from ..training.latent_generator import LatentTrainConfig, train_latent_generators

    if args.output.suffix.lower() != ".safetensors":
        raise InputError(f"-o must name a .safetensors file, got {args.output.name}")
    if args.output.exists() and not args.overwrite:
        raise InputError(f"{args.output} exists (use --overwrite to replace it)")
    if args.device != "cpu":
        raise InputError("train-latent-generator runs on the CPU only (--device cpu)")
    cfg = LatentTrainConfig(classifier_steps=args.classifier_steps, steps=args.steps, batch_size=args.batch_size,
                            lr=args.lr, noise_dim=args.noise_dim, lambda_diversity=args.lambda_diversity,
                            lambda_prior=args.lambda_prior, val_fraction=args.val_fraction, seed=args.seed)
    G = load_generator(args.generator)
    say = (lambda m: None) if args.quiet else (lambda m: print(m, file=sys.stderr))
    bundle = train_latent_generators(G, args.images, args.labels, cfg, say)
    bundle.info.update({"generator": str(args.generator.resolve()), "generator_sha256": file_sha256(args.generator),
                        "generator_weights": weights_sha256(G), "images": str(args.images.resolve()),
                        "labels_sha256": file_sha256(args.labels)})
    save_bundle(args.output, bundle)
    if not args.quiet:
        print(json.dumps({"output": str(args.output), "classifier_val_accuracy": bundle.info["classifier_val_accuracy"],
                          "scores": bundle.info["scores"]}), file=sys.stderr)
    return 0
