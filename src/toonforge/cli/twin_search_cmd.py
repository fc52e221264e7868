"""``toonforge twin-search``: the images of either domain nearest to a query in a TwinGAN's shared embedding."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..io.outputs import declare_io


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "twin-search", help="find the photos and style images nearest to a query in a TwinGAN's shared embedding",
        description="Index folders of images of both domains with a trained TwinGAN's shared encoder, then print "
        "the K images nearest to --query (cosine similarity), of any domain: 'rank similarity domain path' per "
        "line. An image's domain is its first sub-folder under an --index folder, or that folder's name. The "
        "index is cached (--cache, default $TOONFORGE_CACHE/twin-index/, i.e. ~/.cache/toonforge/twin-index/) "
        "and reused for unchanged files.",
    )
    p.add_argument("model", type=Path, metavar="MODEL",
                   help="a train-twingan run folder (best_generator.safetensors, else generator.safetensors) "
                   "or a .safetensors file")
    p.add_argument("--index", type=Path, action="append", required=True, metavar="DIR",
                   help="folder of images to search (repeatable; searched recursively)")
    p.add_argument("--query", type=Path, required=True, metavar="IMAGE", help="the image to find neighbours of")
    p.add_argument("-k", type=int, default=5, help="number of neighbours")
    p.add_argument("--domain", default=None, help="only neighbours of this domain label (e.g. anime)")
    p.add_argument("-o", "--output", type=Path, default=None, help="contact sheet to write (.png/.jpg)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --output")
    p.add_argument("--cache", type=Path, default=None,
                   help="index file (.npz) to read and update (default: in the cache folder above)")
    p.add_argument("--last", action="store_true", help="use generator.safetensors of a run folder")
    p.add_argument("--batch-size", type=int, default=16, help="images per network call")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--quiet", action="store_true", help="no notices on stderr (results still on stdout)")
    declare_io(p, inputs=["model", "index", "query"], outputs={"output": "file", "cache": "file"})
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..pipelines.twin_search import twin_search

    say = (lambda m: None) if args.quiet else (lambda m: print(m, file=sys.stderr))
    rep = twin_search(args.model, args.index, args.query, k=args.k, domain=args.domain, output=args.output,
                      overwrite=args.overwrite, cache=args.cache, batch_size=args.batch_size, device=args.device,
                      last=args.last, say=say)
    for src, why in rep.problems:
        print(f"skipped {src}: {why}", file=sys.stderr)
    for m in rep.matches:
        print(f"{m.rank}\t{m.similarity:.4f}\t{m.domain}\t{m.path}")
    if rep.sheet is not None:
        say(f"contact sheet: {rep.sheet}")
    return 0
