"""What the web app does with a request, in plain Python (no Gradio here).

The UI layer (:mod:`toonforge.app.ui`) turns the :class:`~toonforge.errors.InputError` raised
here into a message on the page; everything else in this module is testable without a server.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError, MissingDependencyError
from ..io.images import load_image
from ..pipelines.stylizer import BACKENDS, Stylizer
from ..pipelines.stylizer_cache import StylizerCache
from ..styles.post import PostSettings
from ..styles.registry import available_styles, listed_styles
from . import APP_MAX_PIXELS

NO_FACE_HEAD_ONLY = "no face found, so there is no head to show; untick 'Head only' to stylize the whole image"
Progress = Callable[[int, "int | None"], None]


@dataclass
class ImageOutcome:
    """A stylized picture for the page: ``image`` (H, W, 3) uint8 RGB, plus notices."""

    image: np.ndarray
    notices: list[str] = field(default_factory=list)


@dataclass
class VideoOutcome:
    """A stylized video file for the page, plus notices and the frame count (None if unknown)."""

    path: Path
    notices: list[str] = field(default_factory=list)
    frames: int | None = None


class AppHandlers:
    """The app's actions: stylize an image, stylize a video.

    Args:
        cache: where Stylizers come from (default: a new :class:`StylizerCache`).
        backend: "auto", "torch" or "onnx" (see :mod:`toonforge.pipelines.backends`).
        max_pixels: larger images are refused before decoding.
        work_dir: parent of the per-request output folders (default: a private temp folder,
            removed when this object goes away).
        keep_seconds: per-request folders older than this are removed on the next request.
    """

    def __init__(self, cache: StylizerCache | None = None, *, backend: str = "auto",
                 max_pixels: int = APP_MAX_PIXELS, work_dir: str | Path | None = None,
                 keep_seconds: float = 3600.0) -> None:
        if backend not in BACKENDS:
            raise InputError(f"unknown backend {backend!r}; use one of {', '.join(BACKENDS)}")
        self.cache = cache if cache is not None else StylizerCache()  # (an empty cache is falsy)
        self.backend, self.max_pixels, self.keep_seconds = backend, max_pixels, keep_seconds
        if work_dir is None:
            self.work_dir = Path(tempfile.mkdtemp(prefix="toonforge-app-"))
            self._cleanup = weakref.finalize(self, shutil.rmtree, str(self.work_dir), True)
        else:
            self.work_dir = Path(work_dir)
            self.work_dir.mkdir(parents=True, exist_ok=True)

    # ---- checks ------------------------------------------------------------------------
    @staticmethod
    def style_names() -> list[str]:
        """Every style the registry knows (shipped, ~/.toonforge/styles, $TOONFORGE_STYLES), with the
        styles listed inside multi-style models."""
        folders = available_styles()
        return sorted([*folders, *listed_styles(folders)])

    @staticmethod
    def mix_pair() -> tuple[str, str, str] | None:
        """(model, first style, second style) of the first multi-style model installed, for the
        page's mix slider; None when there is none."""
        from ..styles.style import Style

        for name, path in available_styles().items():
            try:
                styles = Style.load(path).config.styles
            except (InputError, OSError, ValueError):
                continue
            if styles:
                return name, styles[0].name, styles[1].name
        return None

    def _style_name(self, style: str | None) -> str:
        """``style`` if it is a registry name; a request must not make the server load an arbitrary path."""
        names = self.style_names()
        if not style or style not in names:
            raise InputError(f"unknown style {style!r}; available: {', '.join(names) or 'none'}")
        return style

    def _stylizer(self, style: str | None, mix: str | None = None) -> Stylizer:
        stylizer = self.cache.get(self._style_name(style), self.backend)
        return stylizer if mix is None else stylizer.mixed(mix)

    @staticmethod
    def _strength(strength: float | None) -> float:
        try:
            value = 1.0 if strength is None else float(strength)
        except (TypeError, ValueError):
            raise InputError(f"strength must be a number in [0, 1], got {strength!r}") from None
        if not 0.0 <= value <= 1.0:
            raise InputError(f"strength must be in [0, 1], got {value}")
        return value

    def _rgb(self, image: np.ndarray | str | Path | None) -> np.ndarray:
        """Decode/validate the input into (H, W, 3) uint8 RGB; InputError with one line if bad."""
        if image is None or (isinstance(image, str) and not image.strip()):
            raise InputError("no image: upload a photo or take one with the webcam first")
        if isinstance(image, (str, Path)):
            path = Path(image)
            try:
                return load_image(path, max_pixels=self.max_pixels).rgb
            except InputError as exc:  # name the file as the user knows it, not the temp path
                text = str(exc).replace(str(image), path.name).replace(" (use --max-pixels)", "")
                raise InputError(text) from None
        if not isinstance(image, np.ndarray):
            raise InputError(f"expected an image file or an array, got {type(image).__name__}")
        arr = image
        if arr.ndim == 2:
            arr = np.repeat(arr[:, :, None], 3, axis=2)
        if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4) or min(arr.shape[:2]) < 1:
            raise InputError(f"expected an (H, W, 3) image, got shape {arr.shape}")
        if arr.shape[0] * arr.shape[1] > self.max_pixels:
            raise InputError(f"image is {arr.shape[1]}×{arr.shape[0]} = {arr.shape[0] * arr.shape[1]:,} "
                             f"pixels, above the limit of {self.max_pixels:,}")
        if arr.dtype != np.uint8:
            if not np.issubdtype(arr.dtype, np.number):
                raise InputError(f"expected a numeric image, got {arr.dtype}")
            arr = np.clip(np.nan_to_num(arr.astype(np.float32)), 0, 255).astype(np.uint8)
        if arr.shape[2] == 1:
            arr = np.repeat(arr, 3, axis=2)
        return np.ascontiguousarray(arr[:, :, :3])

    # ---- actions -----------------------------------------------------------------------
    def stylize_image(self, image: np.ndarray | str | Path | None, style: str | None,
                      strength: float | None = 1.0, head_only: bool = False, mix: str | None = None) -> ImageOutcome:
        """Stylize one picture.

        Args:
            image: (H, W, 3) uint8 RGB (grey/RGBA/float are converted), or an image file path.
            style: a registry style name.
            strength: 0 gives the input back, 1 the full style.
            head_only: return the stylized aligned crop of the largest face instead.
            mix: a multi-style model's mix, ``"anime=0.7,cartoon=0.3"`` (None: the style as named).

        Raises:
            InputError: no/bad/too large image, unknown style, bad strength, or no face in
                head-only mode. Each message is one line.
        """
        rgb = self._rgb(image)
        value = self._strength(strength)
        stylizer = self._stylizer(style, mix)
        result = stylizer(rgb, strength=value, head_only=bool(head_only))
        if head_only:
            if not result.heads:
                raise InputError(NO_FACE_HEAD_ONLY)
            notices = [f"{len(result.heads)} faces found; showing the largest"] if len(result.heads) > 1 else []
            return ImageOutcome(result.heads[0], notices)
        assert result.image is not None
        return ImageOutcome(result.image, list(result.notices))

    def stylize_video(self, video: str | Path | None, style: str | None, strength: float | None = 1.0,
                      head_only: bool = False, progress: Progress | None = None,
                      mix: str | None = None) -> VideoOutcome:
        """Stylize a video file into a fresh per-request folder; audio is kept by the pipeline.

        ``progress(done, total)`` is called as frames are written (total None when unknown).
        """
        if video is None or not str(video).strip():
            raise InputError("no video: upload one first")
        src = Path(video)
        if not src.is_file():
            raise InputError(f"cannot read {src.name}: no such file")
        if src.stat().st_size == 0:
            raise InputError(f"cannot read {src.name}: file is empty")
        value = self._strength(strength)
        try:
            from ..pipelines.video import stylize_video, video_style
        except ImportError:
            raise MissingDependencyError("video stylization is not available in this installation "
                                         "(toonforge.pipelines.video is missing)") from None
        student, remark = video_style(self._style_name(style), mix=mix)  # its video student, as the CLI runs
        stylizer = self._stylizer(student.name if remark else style, mix)
        if remark:  # the student's networks with its teacher's post-processing
            stylizer = stylizer.with_post(PostSettings.of(student.config))
        self._prune()
        out_dir = Path(tempfile.mkdtemp(prefix="request-", dir=self.work_dir))
        dst = out_dir / f"{src.stem}-{style}.mp4"
        try:
            report = stylize_video(src, dst, stylizer, strength=value, head_only=bool(head_only),
                                   progress=progress)
        except InputError as exc:
            raise InputError(str(exc).replace(str(src), src.name)) from None
        notices = getattr(report, "notices", None)
        frames = getattr(report, "frames", None)
        notices = [str(n) for n in notices] if isinstance(notices, (list, tuple)) else []
        return VideoOutcome(Path(getattr(report, "path", dst)), ([remark] if remark else []) + notices,
                            frames if isinstance(frames, int) else None)

    def _prune(self) -> None:
        """Remove per-request folders older than ``keep_seconds``."""
        cutoff = time.time() - self.keep_seconds
        for d in self.work_dir.glob("request-*"):
            try:
                if d.is_dir() and d.stat().st_mtime < cutoff:
                    shutil.rmtree(d, ignore_errors=True)
            except OSError:
                continue
