"""``toonforge sample``: render a StyleGAN2 generator into a style dataset, or a paired photo/style set."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import InputError
from ..io.outputs import declare_io
from .pickle_args import add_allow_pickle
from .vocabulary import alias


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sample", help="sample a StyleGAN2 generator into a (paired) image dataset",
        description="Write images named seedNNNNNNN (random latents, seed + i for image i) or latentNNNNNNN "
        "(--latents) with a manifest.jsonl that can regenerate each one. Rerunning the command resumes: "
        "finished images are skipped. --paired writes DIR/photo and DIR/style from the same codes and noise.",
    )
    p.add_argument("generator", type=Path, metavar="GEN",
                   help="style generator weights (.safetensors, .pt; .pkl with --allow-pickle)")
    p.add_argument("-o", "--output", type=Path, required=True, help="output folder")
    p.add_argument("-n", "--num", type=int, default=None,
                   help="number of images (default: 1000, or every code of --latents)")
    p.add_argument("--seed", type=int, default=0, help="first seed (default 0)")
    p.add_argument("--truncation", type=float, default=None,
                   help="psi in W (default 0.7 for random latents, 1.0 for --latents)")
    p.add_argument("--truncation-cutoff", type=int, default=None, metavar="K",
                   help="truncate only the first K per-layer codes, as NVlabs' truncation_cutoff (default: all)")
    p.add_argument("--paired", type=Path, metavar="SOURCE", help="source (photo) generator: write photo/style pairs")
    p.add_argument("--latents", type=Path, metavar="CODES",
                   help="W+ codes (N, num_ws, D) or W (N, D) as .npy or .safetensors, e.g. inverted faces")
    p.add_argument("--mix-layers", "--layers", metavar="LAYERS",
                   help="style mixing: ws indices from a donor latent (or --template), e.g. 5-8")
    p.add_argument("--mix-seed", type=int, default=None,
                   help="donor seed for every image (default: each image's own second draw)")
    p.add_argument("--template", type=Path, metavar="IMAGE",
                   help="template face: inverted (aligned, W+) into the source (--paired) or GEN; its codes at "
                   "--layers (default 5-8) replace every sample's after truncation")
    p.add_argument("--template-steps", type=int, default=300, help="--template: inversion steps (default 300)")
    p.add_argument("--latent-generator", type=Path, metavar="FILE",
                   help="per-class latent generators (from train-latent-generator): sample --class from them")
    p.add_argument("--class", dest="class_name", metavar="NAME", help="--latent-generator: the class to sample")
    p.add_argument("--code", type=int, metavar="I",
                   help="Info-StyleGAN (train-stylegan --info-codes): the type to sample")
    p.add_argument("--mapping", choices=["source", "each"], default="source",
                   help="paired: map z with the source generator only (default) or with each generator")
    p.add_argument("--size", type=int, default=None, help="output side in px (default: generator size)")
    p.add_argument("--batch-size", dest="batch", type=int, default=8, help="images per step (default 8)")
    p.add_argument("--fast", action="store_true",
                   help="batch the forward passes (faster on GPUs; pixels may then differ by rounding)")
    p.add_argument("--format", choices=["png", "jpg", "webp", "bmp"], default="png", help="image file format")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    p.add_argument("--overwrite", action="store_true", help="re-render everything, start a new manifest")
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    add_allow_pickle(p)
    alias(p, "--batch-size", "--batch")
    declare_io(p, inputs=["generator", "paired", "latents", "template", "latent_generator"],
               outputs={"output": "own-folder"})
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..stylegan.mixing import parse_layers
    from ..stylegan.sampling import sample_dataset

    n = args.num if args.num is not None else (None if args.latents else 1000)
    if n is not None and n < 0:
        raise InputError(f"-n must be >= 0, got {n}")
    if args.output.exists() and not args.output.is_dir():
        raise InputError(f"{args.output} exists and is not a folder")
    truncation = args.truncation if args.truncation is not None else (1.0 if args.latents else 0.7)
    if args.template is not None and args.mix_layers is None:
        args.mix_layers = "5-8"  # the reference's advice for 18-layer generators
    mix = parse_layers(args.mix_layers) if args.mix_layers else None  # range checked once the model is loaded
    if args.latent_generator is not None or args.class_name is not None:
        from .sample_codes import write_class_codes

        args.latents = write_class_codes(args, n)
        truncation = args.truncation if args.truncation is not None else 1.0
    elif args.code is not None:
        from .sample_codes import write_info_codes

        args.latents = write_info_codes(args, n)
        truncation = args.truncation if args.truncation is not None else 0.7
    template = template_info = None
    if args.template is not None:
        from .template_face import invert_template

        template, template_info = invert_template(args.paired or args.generator, args.template, args.output,
                                                  args.mix_layers,
                                                  steps=args.template_steps, seed=args.seed, device=args.device)
    report = sample_dataset(
        args.generator, args.output, n, seed=args.seed, source=args.paired, latents=args.latents,
        truncation=truncation, mix_layers=mix, mix_seed=args.mix_seed, mapping=args.mapping, size=args.size,
        fmt=args.format, batch=args.batch, exact=not args.fast, overwrite=args.overwrite, progress=not args.quiet,
        device=args.device, allow_pickle=args.allow_pickle, truncation_cutoff=args.truncation_cutoff,
        template=template, template_info=template_info,
    )
    if not args.quiet:
        print(f"wrote {len(report.written)} images, skipped {len(report.skipped)} already finished; "
              f"manifest {report.manifest}", file=sys.stderr)
    return 0
