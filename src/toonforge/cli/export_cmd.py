"""``toonforge export``: a style's network to ONNX, checked against PyTorch."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..io.outputs import declare_io
from .vocabulary import positional_input


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export a style's network to ONNX (with a parity check)",
                       description="Write the head (or full-frame) network of STYLE as an ONNX graph, run it next to "
                       "the PyTorch network on test inputs and refuse the file when they differ by more than "
                       "--tolerance.")
    positional_input(p, "style", "--style", metavar="STYLE", help="style name or folder")
    p.add_argument("-o", "--output", type=Path, required=True, help="the .onnx file to write")
    p.add_argument("--role", choices=["head", "full"], default="head", help="which network (default head)")
    p.add_argument("--overwrite", action="store_true", help="replace an .onnx file toonforge wrote")
    p.add_argument("--quiet", action="store_true", help="print nothing when it succeeds")
    p.add_argument("--tolerance", type=float, default=1e-3, help="max abs difference allowed")
    declare_io(p, inputs=["style:style"], outputs={"output": "file"})
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import InputError, ToonforgeError
    from ..export.onnx_export import check_parity, export_onnx
    from ..styles.registry import load_style

    if args.output.suffix.lower() != ".onnx":
        raise InputError(f"output must end in .onnx, got {args.output.name}")
    style = load_style(args.style)
    net = style.build_net(args.role)
    export_onnx(net, args.output, overwrite=args.overwrite)
    report = check_parity(net, args.output, tolerance=args.tolerance)
    sizes = ", ".join(f"{k}: {v:.2e}" for k, v in report.max_abs_diff.items())
    if not report.ok:
        args.output.unlink()
        raise ToonforgeError(f"ONNX output differs from PyTorch beyond {args.tolerance} ({sizes}); file removed")
    if not args.quiet:
        print(f"wrote {args.output} (parity max abs diff {sizes})")
    return 0
