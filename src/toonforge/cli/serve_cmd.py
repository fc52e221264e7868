"""``toonforge serve``: the stylization pipeline as an HTTP service (the ``serve`` extra)."""

from __future__ import annotations

import argparse

from ..io.outputs import declare_io
from .video_cmd import _positive


def _non_negative(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not v >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {v}")
    return v


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve", help="serve styles over HTTP (needs the [serve] extra)",
        description="Serve POST /v1/stylize, GET /v1/styles, /healthz, /readyz, /metrics and /docs with "
        "FastAPI on uvicorn. Network calls of concurrent requests are batched; a full queue answers 503. "
        "Listens on 127.0.0.1 only, unless --host says otherwise. Needs no PyTorch.")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0: every interface)")
    p.add_argument("--port", type=_positive("port", 0, 65535), default=8000, help="TCP port")
    p.add_argument("--workers", type=_positive("workers", 1, 256), default=1,
                   help="server processes (each loads its own styles and answers on the same port)")
    p.add_argument("--style", default="classic", help="default style of requests that name none")
    p.add_argument("--preload", nargs="*", default=[], metavar="STYLE", help="more styles to load at start")
    p.add_argument("--max-styles", type=_positive("max styles", 1, 1000), default=8,
                   help="styles kept loaded (least recent go)")
    p.add_argument("--backend", choices=("auto", "onnx"), default="auto",
                   help="engine for the networks (the server runs ONNX Runtime; no PyTorch needed)")
    p.add_argument("--detector", default="dlib", help="face detector backend, or 'none'")
    p.add_argument("--threads", type=_positive("threads", 1, 1024), default=None,
                   help="ONNX Runtime threads per network")
    p.add_argument("--concurrency", type=_positive("concurrency", 1, 1024), default=4,
                   help="requests processed at once per worker")
    p.add_argument("--max-queue", type=_positive("max queue", 1, 1_000_000), default=32,
                   help="requests accepted at once per worker (processing + waiting); more get 503")
    p.add_argument("--batch-size", type=_positive("batch size", 1, 4096), default=8,
                   help="most images or face crops per network call (1: no batching)")
    p.add_argument("--batch-window-ms", type=_non_negative, default=5.0,
                   help="how long a network call waits for other requests to join it")
    p.add_argument("--max-upload-mb", type=_non_negative, default=10.0,
                   help="largest request body; larger get 413")
    p.add_argument("--max-pixels", type=_positive("max pixels", 1, 2**40), default=16_000_000,
                   help="largest image; larger get 413")
    p.add_argument("--quiet", action="store_true", help="no access log")
    declare_io(p)  # reads styles, writes nothing
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import os

    import uvicorn

    from ..serve.app import create_app
    from ..serve.service import SETTINGS_ENV, ServeSettings

    settings = ServeSettings(
        default_style=args.style, preload=list(args.preload), max_styles=args.max_styles, backend=args.backend,
        detector=None if args.detector == "none" else args.detector, threads=args.threads,
        concurrency=args.concurrency, max_queue=args.max_queue, max_batch=args.batch_size,
        batch_window_ms=args.batch_window_ms, max_body_mb=args.max_upload_mb, max_pixels=args.max_pixels)
    common = dict(host=args.host, port=args.port, access_log=not args.quiet,
                  log_level="warning" if args.quiet else "info")
    if args.workers > 1:  # each worker process builds its app from the settings in its environment
        os.environ[SETTINGS_ENV] = settings.to_env()
        uvicorn.run("toonforge.serve.app:app_from_env", factory=True, workers=args.workers, **common)
    else:
        uvicorn.run(create_app(settings), **common)
    return 0
