"""The HTTP API (FastAPI on uvicorn) over :class:`~.service.StyleService`.

* ``POST /v1/stylize``: the image as the raw body (``image/*`` or ``application/octet-stream``)
  or as the ``image`` field of a multipart form; query parameters ``style``, ``strength``,
  ``head_only``, ``format`` (png, jpeg, webp), ``size``, ``mix`` (a multi-style model's weights,
  ``anime=0.7,cartoon=0.3``). Answers the image; ``X-Faces`` says
  how many faces were found, ``X-Toonforge-Notice`` carries a notice (e.g. no face found).
* ``GET /v1/styles``, ``GET /healthz`` (the process answers), ``GET /readyz`` (the default
  style is loaded), ``GET /metrics`` (Prometheus), ``GET /docs`` and ``/openapi.json``.

Every error is JSON ``{"error": "...", "status": N}``: 413 for too many bytes or pixels, 422 for
something that is not an image or a bad parameter, 404 for an unknown style, 503 with
``Retry-After`` when the queue is full. A request that fails never stops the server.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Literal

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..errors import first_line
from .metrics import CONTENT_TYPE
from .service import ServeSettings, ServiceError, StyleService

__all__ = ["app_from_env", "create_app"]

_IMAGE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "image/*": {"schema": {"type": "string", "format": "binary"}},
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            "multipart/form-data": {"schema": {"type": "object", "required": ["image"], "properties": {
                "image": {"type": "string", "format": "binary"}}}},
        },
    },
    "responses": {"200": {"content": {"image/png": {}, "image/jpeg": {}, "image/webp": {}},
                          "description": "the stylized image"}},
}


def _error(status: int, message: str, retry_after: int | None = None) -> JSONResponse:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return JSONResponse({"error": message, "status": status}, status_code=status, headers=headers)


async def _read_body(request: Request, service: StyleService) -> bytes:
    """The request body, refused (413) as soon as it passes the byte limit."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit():
        service.check_body_size(int(declared))
    chunks, total = [], 0
    async for chunk in request.stream():
        total += len(chunk)
        service.check_body_size(total)
        chunks.append(chunk)
    return b"".join(chunks)


async def _image_bytes(request: Request, body: bytes) -> bytes:
    """The upload: the body itself, or the ``image`` (or only) file field of a multipart form."""
    ctype = request.headers.get("content-type", "")
    if not ctype.startswith("multipart/form-data"):
        return body
    from starlette.formparsers import MultiPartException, MultiPartParser

    async def once():
        yield body

    try:
        form = await MultiPartParser(request.headers, once()).parse()
    except MultiPartException as exc:
        raise ServiceError(422, f"bad multipart form: {exc.message}") from None
    field = form.get("image")
    if field is None:
        files = [v for v in form.values() if hasattr(v, "read")]
        field = files[0] if len(files) == 1 else None
    if field is None or not hasattr(field, "read"):
        raise ServiceError(422, "the multipart form has no 'image' file field")
    return await field.read()


def create_app(settings: ServeSettings | None = None, *, service: StyleService | None = None,
               load_in_background: bool = True) -> FastAPI:
    """The ASGI app. ``service`` may be given (tests); styles load at start, in a thread when
    ``load_in_background`` (so ``/healthz`` answers at once and ``/readyz`` once loaded)."""
    settings = settings or ServeSettings()
    service = service or StyleService(settings)
    pool = ThreadPoolExecutor(max_workers=settings.concurrency, thread_name_prefix="toonforge-serve")
    state: dict[str, str | None] = {"load_error": None}

    def load() -> None:
        try:
            service.load()
        except Exception as exc:  # noqa: BLE001  (reported by /readyz; the process stays up)
            state["load_error"] = first_line(exc)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        if load_in_background:
            threading.Thread(target=load, name="toonforge-serve-load", daemon=True).start()
        else:
            load()
        yield
        pool.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(title="toonforge", version=__version__, lifespan=lifespan,
                  description="Stylize portraits over HTTP: the toonforge pipeline, batched across requests.")
    app.state.service = service
    metrics = service.metrics

    @app.exception_handler(ServiceError)
    async def _service_error(request: Request, exc: ServiceError):
        return _error(exc.status, exc.message, exc.retry_after)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ())[1:]) or "request"
        return _error(422, f"bad parameter {where}: {first.get('msg', 'invalid')}")

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        return _error(exc.status_code, str(exc.detail))

    @app.exception_handler(Exception)
    async def _internal_error(request: Request, exc: Exception):
        return _error(500, f"internal failure ({type(exc).__name__})")

    @app.middleware("http")
    async def _count(request: Request, call_next):
        response = await call_next(request)
        metrics.requests.labels(request.url.path, str(response.status_code), metrics.pid).inc()
        return response

    @app.post("/v1/stylize", openapi_extra=_IMAGE_BODY, response_class=Response,
              summary="Stylize one image (raw body or multipart field 'image')")
    async def stylize(
        request: Request,
        style: str | None = Query(None, description="style name (GET /v1/styles); default: the server's"),
        strength: float = Query(1.0, ge=0.0, le=1.0, description="0 = the input, 1 = full style"),
        head_only: bool = Query(False, description="return the largest face's stylized aligned crop"),
        format: Literal["png", "jpeg", "webp"] = Query("png", description="output image format"),  # noqa: A002
        size: int | None = Query(None, ge=16, le=8192, description="long side of the output (head: its side)"),
        mix: str | None = Query(None, max_length=1000,
                                description="a multi-style model's mix of its styles, e.g. anime=0.7,cartoon=0.3"),
    ) -> Response:
        service.admit()
        try:
            body = await _read_body(request, service)
            data = await _image_bytes(request, body)
            loop = asyncio.get_running_loop()
            out = await loop.run_in_executor(pool, lambda: service.timed(
                service.stylize, data, style=style, strength=strength, head_only=head_only, fmt=format,
                size=size, mix=mix))
        finally:
            service.release()
        headers = {"X-Faces": str(out.faces)}
        if out.notices:
            headers["X-Toonforge-Notice"] = "; ".join(out.notices).encode("ascii", "replace").decode()
        return Response(out.body, media_type=out.media_type, headers=headers)

    @app.get("/v1/styles", summary="The styles this server can run")
    async def styles() -> dict:
        from ..styles.catalog import catalog

        rows = await asyncio.get_running_loop().run_in_executor(None, catalog)
        return {"default": settings.default_style,
                "styles": [{k: v for k, v in r.to_dict().items() if k != "path"} for r in rows]}

    @app.get("/healthz", summary="The process is up")
    async def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/readyz", summary="The default style is loaded and requests are served")
    async def readyz():
        if state["load_error"]:
            return _error(503, f"loading styles failed: {state['load_error']}")
        if not service.ready.is_set():
            return _error(503, "still loading styles", retry_after=1)
        return {"status": "ready", "queued": service.pending}

    @app.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def metrics_endpoint() -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    return app


def app_from_env() -> FastAPI:
    """The app of one ``--workers`` process, from the settings its parent put in the environment."""
    return create_app(ServeSettings.from_env())
