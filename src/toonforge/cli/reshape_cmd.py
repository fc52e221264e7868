"""``toonforge reshape``: copy a style folder with a face reshape (larger eyes, narrower jaw)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from pathlib import Path

from ..face.reshape import RESHAPE_LIMITS


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "reshape", help="copy a style with a face reshape (anime-like eyes and jaw)",
        description="Write a copy of STYLE to --out whose faces are reshaped after stylizing: each eye "
        "magnified --eyes times at its centre, the nose --nose times, cheeks and jaw pulled towards the "
        "midline by --jaw. The warp follows each face's landmarks and leaves the crop's border in place. "
        "The networks and ONNX files are copied unchanged. --none writes a copy without a reshape.",
    )
    p.add_argument("style", metavar="STYLE", help="style name or folder to copy")
    p.add_argument("--out", type=Path, required=True, help="the new style folder")
    p.add_argument("--name", default=None, help="name of the new style (default: the folder's name)")
    for key, default, what in (("eyes", 1.0, "magnification at each eye centre"),
                               ("eye-radius", 0.45, "radius of the eye lens, in eye distances"),
                               ("nose", 1.0, "magnification at the nose tip"),
                               ("jaw", 0.0, "squeeze of cheeks and jaw")):
        lo, hi = RESHAPE_LIMITS[key.replace("-", "_")]
        p.add_argument(f"--{key}", type=float, default=default, help=f"{what}, in [{lo}, {hi}] (default {default})")
    p.add_argument("--none", action="store_true", help="remove any reshape instead")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import InputError
    from ..face.reshape import ReshapeSpec
    from ..styles.registry import load_style

    style = load_style(args.style)
    if style.path is None:
        raise InputError(f"style {args.style!r} has no folder to copy")
    out = Path(args.out)
    if out.resolve() == style.path.resolve():
        raise InputError("--out is the style's own folder; write the copy somewhere else")
    if out.exists() and not args.overwrite:
        raise InputError(f"{out} already exists; pass --overwrite to replace it")
    spec = None if args.none else ReshapeSpec(eyes=args.eyes, eye_radius=args.eye_radius, nose=args.nose,
                                               jaw=args.jaw)
    config = style.config
    config.name = args.name or out.name
    config.reshape = None if spec is None or spec.is_identity else spec
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for f in style.path.iterdir():
            if f.is_file():
                shutil.copy2(f, tmp / f.name)
        (tmp / "config.json").write_text(json.dumps(config.to_dict(), indent=2) + "\n", encoding="utf-8")
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    what = "no reshape" if config.reshape is None else json.dumps(config.reshape.to_dict())
    print(f"wrote style {config.name!r} to {out} ({what})")
    return 0
