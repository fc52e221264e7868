"""``toonforge app``: the browser app (Gradio) over the same pipelines as the CLI.

Gradio is imported only when the command runs, never when the CLI starts.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import InputError
from ..io.outputs import declare_io
from .engine_args import add_engine_args, positive_int, say_setup_notices


def _port(text: str) -> int:
    v = positive_int(text)
    if v > 65535:
        raise argparse.ArgumentTypeError(f"port must be in 1..65535, got {v}")
    return v


def _megabytes(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of megabytes, got {text!r}") from None
    if not v > 0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {v}")
    return v


def register(sub: argparse._SubParsersAction) -> None:
    from ..app import APP_MAX_PIXELS  # light: no gradio, no torch

    p = sub.add_parser("app", help="start the web app (needs the [app] extra)",
                       description="Serve a web page for stylizing photos (upload or webcam) and videos. "
                       "It listens on 127.0.0.1 only unless --host says otherwise; --share makes a public "
                       'link. Needs Gradio: pip install "toonforge[app]".')
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1; 0.0.0.0 exposes it to your network)")
    p.add_argument("--port", type=_port, default=7860, help="port to listen on (default 7860)")
    p.add_argument("--share", action="store_true", help="also open a public Gradio share link (off by default)")
    add_engine_args(p)
    p.add_argument("--detector", default="dlib", help="face detector backend, or 'none'")
    p.add_argument("--concurrency", type=positive_int, default=2,
                   help="requests processed at once; others wait in the queue (default 2)")
    p.add_argument("--queue-size", type=positive_int, default=32,
                   help="requests allowed to wait; more are turned away (default 32)")
    p.add_argument("--max-upload-mb", type=_megabytes, default=20.0, help="largest upload accepted (default 20)")
    p.add_argument("--max-pixels", type=positive_int, default=APP_MAX_PIXELS,
                   help=f"refuse larger images (default {APP_MAX_PIXELS:,})")
    p.add_argument("--examples", type=Path, default=None,
                   help="folder of example photos (default: ../shared/data/faces/scut when present)")
    p.add_argument("--style-default", default="classic", help="style selected when the page opens")
    declare_io(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..app import require_gradio

    require_gradio()  # one-line error naming the extra when Gradio is missing
    from ..app.handlers import AppHandlers
    from ..app.ui import build_demo, find_examples, launch_demo
    from ..pipelines.stylizer_cache import StylizerCache

    if args.examples is not None and not args.examples.is_dir():
        raise InputError(f"--examples {args.examples}: not a directory")
    handlers = AppHandlers(StylizerCache(detector=None if args.detector == "none" else args.detector,
                                         device=args.device, threads=args.threads),
                           backend=args.backend, max_pixels=args.max_pixels)
    names = handlers.style_names()
    if args.style_default not in names:
        raise InputError(f"unknown style {args.style_default!r} for --style-default; available: {', '.join(names)}")
    # Load it now: a broken style fails before serving.
    say_setup_notices(handlers.cache.get(args.style_default, args.backend))
    if args.share:
        print("warning: --share makes this app reachable by anyone with the link, through Gradio's "
              "public share servers", file=sys.stderr)
    demo = build_demo(styles=names, examples=find_examples(args.examples), max_upload_mb=args.max_upload_mb,
                      concurrency=args.concurrency, queue_size=args.queue_size,
                      default_style=args.style_default, handlers=handlers)
    try:
        launch_demo(demo, host=args.host, port=args.port, share=args.share)
    except OSError as exc:  # Gradio's "Cannot find empty port", or an address we cannot bind
        raise InputError(f"cannot listen on {args.host}:{args.port} ({str(exc).split('.')[0]}); "
                         "choose another --port or --host") from None
    return 0
