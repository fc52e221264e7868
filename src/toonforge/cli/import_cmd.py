"""``toonforge import``: an outside stylization model (AnimeGANv2 .pt, any ONNX graph) as a style folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..io.outputs import declare_io


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", type=Path, required=True, help="style folder to write (must not exist)")
    p.add_argument("--name", default=None, help="style name (default: the folder's name)")
    p.add_argument("--source", default=None,
                   help="where the weights came from (URL or citation), recorded in card.md (default: the file name)")
    p.add_argument("--full-resolution", type=int, default=512,
                   help="long side the full frame is processed at (default 512)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing style folder")
    p.add_argument("--quiet", action="store_true", help="no summary")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "import", help="turn an outside stylization model into a style folder",
        description="Write a style folder (config.json, card.md, weights or graph) from a model trained "
        "elsewhere; stylize, video, app and eval then take it like any style. The card records the source "
        "of the weights; their licence is yours to check.",
    )
    declare_io(p)  # each kind below declares what it reads and writes
    kinds = p.add_subparsers(dest="kind", metavar="KIND", required=True, parser_class=type(p),
                             help="the kind of model to import")
    a = kinds.add_parser(
        "animeganv2", help="AnimeGANv2 generator state dict (.pt), e.g. face_paint_512_v2.pt",
        description="Load the state dict of AnimeGANv2's PyTorch generator (torch.load weights_only=True; "
        "the key names of the public face-paint and paprika checkpoints), write it as model.safetensors "
        "and export head.onnx (checked against PyTorch).",
    )
    a.add_argument("weights", type=Path, metavar="WEIGHTS", help="generator state dict (.pt, .pth, .safetensors)")
    a.add_argument("--upsample", choices=["align-corners", "half-pixel"], default="align-corners",
                   help="decoder upsampling: align-corners (the face2paint helper's default) or half-pixel "
                   "(the test script's default); default align-corners")
    a.add_argument("--resolution", type=int, default=512, help="face-crop size in px (default 512, face-paint)")
    _common(a)
    declare_io(a, inputs=["weights"], outputs={"output": "folder"})
    a.set_defaults(func=run_animegan)

    o = kinds.add_parser(
        "onnx", help="any ONNX image-to-image graph (photo2cartoon, AnimeGAN releases, ...)",
        description="Keep the graph as model.onnx and record how to feed it in config.json; the style runs "
        "in ONNX Runtime only. The graph needs one float image input of 3 channels and gives an image back.",
    )
    o.add_argument("graph", type=Path, metavar="GRAPH", help="the .onnx file")
    o.add_argument("--layout", choices=["NCHW", "NHWC"], default="NCHW", help="input/output layout (default NCHW)")
    o.add_argument("--channels", choices=["rgb", "bgr"], default="rgb", help="channel order (default rgb)")
    o.add_argument("--range", dest="input_range", choices=["-1,1", "0,1", "0,255"], default="-1,1",
                   help="input value range (default -1,1)")
    o.add_argument("--output-range", choices=["-1,1", "0,1", "0,255"], default=None,
                   help="output value range (default: as the input)")
    o.add_argument("--resolution", type=int, default=None,
                   help="face-crop size (default: the graph's fixed size, else 256)")
    o.add_argument("--aligned", action=argparse.BooleanOptionalAction, default=True,
                   help="the graph wants FFHQ-aligned faces: it stylizes faces only and the frame stays the "
                   "photo (--no-aligned: it also stylizes whole frames); default aligned")
    o.add_argument("--stride", type=int, default=8,
                   help="graphs of any input size: pad images to a multiple of this (default 8)")
    _common(o)
    declare_io(o, inputs=["graph"], outputs={"output": "folder"})
    o.set_defaults(func=run_onnx)


def _done(args: argparse.Namespace, path: Path) -> int:
    if not args.quiet:
        print(f"style written to {path} (check the licence of the weights; see {path / 'card.md'})")
    return 0


def run_animegan(args: argparse.Namespace) -> int:
    from ..styles.imported import import_animeganv2

    path = import_animeganv2(args.weights, args.output, name=args.name, align_corners=args.upsample == "align-corners",
                             resolution=args.resolution, full_resolution=args.full_resolution, source=args.source,
                             overwrite=args.overwrite)
    return _done(args, path)


def run_onnx(args: argparse.Namespace) -> int:
    from ..styles.imported import import_onnx_graph

    path = import_onnx_graph(args.graph, args.output, name=args.name, layout=args.layout, channels=args.channels,
                             input_range=args.input_range, output_range=args.output_range,
                             resolution=args.resolution, aligned=args.aligned, stride=args.stride,
                             full_resolution=args.full_resolution, source=args.source, overwrite=args.overwrite)
    return _done(args, path)
