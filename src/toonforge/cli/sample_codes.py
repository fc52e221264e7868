"""Codes that ``toonforge sample`` makes itself, saved for the sampler: ``--latent-generator FILE --class
NAME`` (``OUT/class-NAME.npy``) and an Info-StyleGAN's ``--code i`` (``OUT/code-i.npy``).

The codes (W+ (n, num_ws, D), written atomically) are then sampled like ``--latents`` codes, so the
manifest records them (file and SHA-256) and ``regenerate`` rebuilds any image.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..io.files import atomic_output


def write_class_codes(args: argparse.Namespace, n: int) -> Path:
    """Draw ``n`` codes of ``args.class_name`` (seeds ``args.seed + i``) and return the file holding them."""
    from ..models.stylegan2 import load_generator
    from ..stylegan.latent_classes import class_codes, load_bundle
    from ..stylegan.sampling import weights_sha256

    if args.latent_generator is None or args.class_name is None:
        raise InputError("--latent-generator and --class go together")
    if args.latents is not None:
        raise InputError("--latent-generator makes its own codes; drop --latents")
    bundle = load_bundle(args.latent_generator)
    bundle.index(args.class_name)
    G = load_generator(args.paired or args.generator)  # the generator whose mapping network maps z
    if bundle.info.get("generator_weights") not in (None, weights_sha256(G)) and not args.quiet:
        print(f"notice: {args.latent_generator.name} was trained for another generator "
              f"({bundle.info.get('generator', '?')}); its classes may not hold here", file=sys.stderr)
    codes = class_codes(G, bundle, args.class_name, n, seed=args.seed)
    return _save(args.output / f"class-{re.sub(r'[^A-Za-z0-9_.-]+', '_', args.class_name)}.npy", codes)


def write_info_codes(args: argparse.Namespace, n: int) -> Path:
    """Draw ``n`` codes of an Info-StyleGAN's type ``args.code`` (z from seeds ``args.seed + i``)."""
    from ..models.stylegan2 import load_generator
    from ..stylegan.info_codes import code_latents, info_code_count

    if args.latents is not None or args.latent_generator is not None:
        raise InputError("--code makes its own codes; drop --latents and --latent-generator")
    source = args.paired or args.generator
    k = info_code_count(source)
    if k < 2:
        raise InputError(f"{source.name} is not an Info-StyleGAN (train one with train-stylegan --info-codes K)")
    G = load_generator(source)
    return _save(args.output / f"code-{args.code}.npy", G.to_wplus(code_latents(G, args.code, k, n, args.seed)))


def _save(path: Path, codes) -> Path:
    with atomic_output(path) as tmp, open(tmp, "wb") as fh:
        np.save(fh, codes.cpu().numpy().astype(np.float32))
    return path
