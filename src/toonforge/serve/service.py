"""The stylization service behind the HTTP API: limits, a bounded queue, batched networks.

:class:`StyleService` is plain Python (no web framework): :mod:`.app` and the Ray Serve
deployment call :meth:`StyleService.stylize` from worker threads. Errors are
:class:`ServiceError` with the HTTP status they answer with.
"""

from __future__ import annotations

import io
import json
import os
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..errors import InputError, ToonforgeError
from ..face.detector import FaceDetector, create_detector
from .batching import BatchingRunner
from .metrics import ServiceMetrics

__all__ = ["FORMATS", "ServeSettings", "ServiceError", "StyleService", "Stylized"]

FORMATS = {"png": ("PNG", "image/png"), "jpeg": ("JPEG", "image/jpeg"), "webp": ("WEBP", "image/webp")}
SETTINGS_ENV = "TOONFORGE_SERVE_SETTINGS"  # how `--workers N` hands the settings to each worker


class ServiceError(Exception):
    """A request the service refuses, with its HTTP status (and Retry-After seconds for 503)."""

    def __init__(self, status: int, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.retry_after = status, message, retry_after


@dataclass
class ServeSettings:
    """What ``toonforge serve`` was started with (JSON-able, to reach ``--workers`` processes)."""

    default_style: str = "classic"
    preload: list[str] = field(default_factory=list)  # styles loaded at start (the default always is)
    max_styles: int = 8  # styles kept loaded at once (least recently used go)
    backend: str = "auto"
    detector: str | None = "dlib"
    threads: int | None = None  # ONNX Runtime intra-op threads per session
    concurrency: int = 4  # requests processed at once (worker threads)
    max_queue: int = 32  # requests accepted at once (processing + waiting); more get 503
    max_batch: int = 8  # rows per network call; 1 = no batching
    batch_window_ms: float = 5.0
    max_body_mb: float = 10.0
    max_pixels: int = 16_000_000
    max_side: int = 4096  # longest side of the output (the `size` parameter)

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls) -> ServeSettings:
        raw = os.environ.get(SETTINGS_ENV)
        return cls(**json.loads(raw)) if raw else cls()


@dataclass
class Stylized:
    """One answered request: the encoded image, its media type, the faces found and notices."""

    body: bytes
    media_type: str
    faces: int
    notices: list[str]


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from an image's header without decoding pixels; None if it is not an image."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as im:
            return im.size
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError):
        return None


def encode_image(rgb: np.ndarray, alpha: np.ndarray | None, fmt: str) -> bytes:
    """(H, W, 3) uint8 RGB (+ (H, W) alpha for PNG/WebP) -> the encoded bytes of ``fmt``."""
    from PIL import Image

    pil_format, _ = FORMATS[fmt]
    if alpha is not None and pil_format in ("PNG", "WEBP"):
        image = Image.fromarray(np.dstack([rgb, alpha]), "RGBA")
    else:
        image = Image.fromarray(np.ascontiguousarray(rgb), "RGB")
    buf = io.BytesIO()
    options = {"quality": 92} if pil_format in ("JPEG", "WEBP") else {}
    image.save(buf, format=pil_format, **options)
    return buf.getvalue()


class _Serialized:
    """A detector called by one thread at a time (dlib's HOG detector is not safe to share concurrently)."""

    def __init__(self, detector: FaceDetector) -> None:
        self.detector, self._lock = detector, threading.Lock()

    def __call__(self, rgb: np.ndarray) -> list:
        with self._lock:
            return self.detector(rgb)


class StyleService:
    """Stylizers per style (loaded once, networks behind batchers), limits and the request count.

    Args:
        settings: the service's settings.
        detector: a detector object to use instead of ``settings.detector`` (tests).
        factory: builds a Stylizer (default :class:`~toonforge.pipelines.stylizer.Stylizer`).
    """

    def __init__(self, settings: ServeSettings, *, detector: FaceDetector | None = None, factory: Any = None) -> None:
        from ..pipelines.stylizer import Stylizer
        from ..pipelines.stylizer_cache import StylizerCache

        self.settings = settings
        self.metrics = ServiceMetrics()
        if detector is None and settings.detector:
            detector = create_detector(settings.detector)  # shared by every style (one model in memory)
        if detector is not None:
            detector = _Serialized(detector)
        self.batchers: dict[tuple[str, str], BatchingRunner] = {}
        build = factory or Stylizer

        def make(style: str, **kwargs: Any):
            stylizer = build(style, **kwargs)
            stylizer.wrap_runners(lambda role, runner: self._batcher(stylizer.style.name, role, runner))
            return stylizer

        self.cache = StylizerCache(detector=detector, threads=settings.threads, max_items=settings.max_styles,
                                   factory=make)
        self._pending = 0
        self._lock = threading.Lock()
        self.ready = threading.Event()

    def _batcher(self, style: str, role: str, runner: Any) -> BatchingRunner:
        s = self.settings
        b = BatchingRunner(runner, max_batch=s.max_batch, window_s=s.batch_window_ms / 1000,
                           on_batch=lambda rows, _calls: self.metrics.observe_batch(role, rows))
        self.batchers[(style, role)] = b
        return b

    def load(self) -> None:
        """Load the default and preloaded styles (call once at start); sets :attr:`ready`."""
        for name in dict.fromkeys([self.settings.default_style, *self.settings.preload]):
            self.cache.get(name, self.settings.backend)
        self.ready.set()

    # ---- the bounded queue --------------------------------------------------------------
    @property
    def pending(self) -> int:
        return self._pending

    def admit(self) -> None:
        """Count a request in, or raise 503 (with Retry-After) when ``max_queue`` are already in."""
        with self._lock:
            if self._pending >= self.settings.max_queue:
                raise ServiceError(503, f"the server is busy ({self._pending} requests queued); retry shortly",
                                   retry_after=1)
            self._pending += 1
            self.metrics.queue_depth.labels(self.metrics.pid).set(self._pending)

    def release(self) -> None:
        with self._lock:
            self._pending -= 1
            self.metrics.queue_depth.labels(self.metrics.pid).set(self._pending)

    # ---- one request ----------------------------------------------------------------------
    def check_body_size(self, n_bytes: int) -> None:
        limit = int(self.settings.max_body_mb * (1 << 20))
        if n_bytes > limit:
            raise ServiceError(413, f"the upload is {n_bytes:,} bytes, above the limit of {limit:,}")

    def stylize(self, data: bytes, *, style: str | None = None, strength: float = 1.0, head_only: bool = False,
                fmt: str = "png", size: int | None = None, mix: str | None = None) -> Stylized:
        """Decode ``data``, stylize it, encode the result (runs in a worker thread).

        ``mix``: for a multi-style model, ``"anime=0.7,cartoon=0.3"`` (its styles' weights).

        Raises ServiceError: 413 (too many bytes or pixels), 422 (not an image, bad parameter,
        no face with ``head_only``), 404 (unknown style).
        """
        from ..io.images import load_image_bytes

        self.check_body_size(len(data))
        if fmt not in FORMATS:
            raise ServiceError(422, f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
        if size is not None and not 16 <= size <= self.settings.max_side:
            raise ServiceError(422, f"size must be in 16..{self.settings.max_side}, got {size}")
        if not 0.0 <= strength <= 1.0:
            raise ServiceError(422, f"strength must be in [0, 1], got {strength}")
        wh = image_size(data)
        if wh is None:
            raise ServiceError(422, "the upload is not an image, or a format we cannot decode")
        if wh[0] * wh[1] > self.settings.max_pixels:
            raise ServiceError(413, f"the image is {wh[0]}x{wh[1]} = {wh[0] * wh[1]:,} pixels, "
                                    f"above the limit of {self.settings.max_pixels:,}")
        try:
            image = load_image_bytes(data, "the upload", max_pixels=self.settings.max_pixels)
            stylizer = self._stylizer(style) if style else self.cache.get(self.settings.default_style,
                                                                           self.settings.backend)
            if mix is not None:  # the same networks (and batchers), this request's mix
                stylizer = stylizer.mixed(mix)
            result = stylizer(image, strength=strength, head_only=head_only, size=size)
        except ServiceError:
            raise
        except InputError as exc:
            raise ServiceError(422, str(exc)) from None
        self.metrics.faces.labels(self.metrics.pid).observe(len(result.faces))
        if head_only:
            if not result.heads:
                raise ServiceError(422, "no face found in the image; nothing to return with head_only")
            body = encode_image(result.heads[0], None, fmt)
        else:
            assert result.image is not None
            body = encode_image(result.image, result.alpha, fmt)
        return Stylized(body, FORMATS[fmt][1], len(result.faces), list(result.notices))

    def _stylizer(self, style: str):
        """The Stylizer of a style a request names (a registry name; the server's default may be a path)."""
        from ..styles.registry import available_styles, listed_styles

        if os.sep in style or (os.altsep and os.altsep in style) or style.startswith("."):
            raise ServiceError(422, "style must be a name from GET /v1/styles, not a path")
        folders = available_styles()
        if style not in folders and style not in listed_styles(folders):
            raise ServiceError(404, f"unknown style {style!r}; GET /v1/styles lists them")
        try:
            return self.cache.get(style, self.settings.backend)
        except ToonforgeError as exc:
            raise ServiceError(422, f"style {style!r} cannot be loaded: {exc}") from None

    def timed(self, fn, *args: Any, **kwargs: Any) -> Any:
        """Run ``fn`` and record its latency."""
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            self.metrics.latency.labels(self.metrics.pid).observe(time.perf_counter() - t0)
