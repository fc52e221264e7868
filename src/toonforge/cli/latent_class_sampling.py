"""``toonforge sample --latent-generator FILE --class NAME``: the class's codes, saved for the sampler.

The codes go to ``OUT/class-NAME.npy`` (W+ (n, num_ws, D), written atomically) and are then sampled like
``--latents`` codes, so the manifest records them (file and SHA-256) and ``regenerate`` rebuilds any image.
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
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", args.class_name)
    path = args.output / f"class-{safe}.npy"
    with atomic_output(path) as tmp, open(tmp, "wb") as fh:
        np.save(fh, codes.cpu().numpy().astype(np.float32))
    return path
