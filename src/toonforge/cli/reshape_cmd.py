"""``toonforge reshape``: copy a style folder with a face reshape (larger eyes, narrower jaw)."""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

from ..face.reshape import RESHAPE_LIMITS
from ..face.skin import CLEAN_SKIN_WIDTHS
from ..io.outputs import declare_io
from .vocabulary import alias


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "reshape", help="copy a style with a face reshape (anime-like eyes, mouth and chin)",
        description="Write a copy of STYLE to -o/--output whose faces are reshaped after stylizing: each eye "
        "magnified --eyes times at its centre (and --eye-height times more from top to bottom), the nose "
        "--nose times, the mouth --mouth times, cheeks and jaw pulled towards the midline by --jaw, the jaw "
        "line below the mouth by --chin. The warp follows each face's landmarks and leaves the crop's border in place. "
        "The networks and their ONNX files are copied unchanged; reshape.onnx, the warp as an ONNX graph for apps, is "
        "written for the new reshape. Parts not given keep STYLE's own reshape (so --clean-skin alone keeps "
        "it); --none writes a copy without a reshape.",
    )
    p.add_argument("style", metavar="STYLE", help="style name or folder to copy")
    p.add_argument("-o", "--output", dest="out", type=Path, required=True, help="the new style folder")
    p.add_argument("--name", default=None, help="name of the new style (default: the folder's name)")
    for key, default, what in (("eyes", 1.0, "magnification at each eye centre"),
                               ("eye-radius", 0.45, "radius of the eye lens, in eye distances"),
                               ("eye-height", 1.0, "the eye's vertical over horizontal magnification"),
                               ("nose", 1.0, "magnification at the nose tip"),
                               ("mouth", 1.0, "magnification at the mouth's centre"),
                               ("jaw", 0.0, "squeeze of cheeks and jaw"),
                               ("chin", 0.0, "squeeze of the jaw line below the mouth")):
        lo, hi = RESHAPE_LIMITS[key.replace("-", "_")]
        p.add_argument(f"--{key}", type=float, default=None,
                       help=f"{what}, in [{lo}, {hi}] (default: as STYLE has it, else {default})")
    p.add_argument("--none", action="store_true", help="remove any reshape instead (no part may be given)")
    lo, hi = CLEAN_SKIN_WIDTHS
    p.add_argument("--clean-skin", type=int, default=None, metavar="WIDTH",
                   help=f"also close ink strokes narrower than WIDTH px (odd, {lo}..{hi}) on the skin of each drawn "
                   "face (needs 68-point landmarks, as the default dlib detector gives); 0 turns it off; "
                   "default: as STYLE has it")
    p.add_argument("--overwrite", action="store_true",
                   help="replace -o/--output if it exists (only a style folder toonforge wrote)")
    p.add_argument("--quiet", action="store_true", help="print nothing when it succeeds")
    alias(p, "--output", "--out")
    declare_io(p, inputs=["style:style"], outputs={"out": "folder"})
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import InputError
    from ..face.reshape import ReshapeSpec
    from ..face.skin import check_clean_skin
    from ..styles.registry import load_style
    from ..styles.style import copy_style

    parts = {k: getattr(args, k) for k in RESHAPE_LIMITS if getattr(args, k) is not None}
    if args.none and parts:
        raise InputError(f"--none removes the reshape; it cannot take --{next(iter(parts)).replace('_', '-')} too")
    style = load_style(args.style)
    spec = None if args.none else replace(style.config.reshape or ReshapeSpec(), **parts)
    clean = style.config.clean_skin if args.clean_skin is None else args.clean_skin
    config = replace(style.config, name=args.name or Path(args.out).name,
                     reshape=None if spec is None or spec.is_identity else spec,
                     clean_skin=check_clean_skin(clean, "--clean-skin") if clean else None)
    copy_style(style, args.out, config, overwrite=args.overwrite)
    what = "no reshape" if config.reshape is None else json.dumps(config.reshape.to_dict())
    if config.clean_skin:
        what += f"; skin strokes under {config.clean_skin} px closed"
    if not args.quiet:
        print(f"wrote style {config.name!r} to {args.out} ({what})")
    return 0
