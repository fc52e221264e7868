"""Stylize a video: decode, detect, track and smooth faces, batched networks, encode, keep audio.

Three stages run at once, joined by small bounded queues:

* a reader thread decodes the input into upright RGB frames (passing the audio packets on) and
  finds their faces: a full scan by the stylizer's detector every ``detect_every`` frames, and
  between those each known face looked for again only around where it was
  (:class:`~toonforge.face.tracking.IntervalFaceFinder`), smoothed over time by a
  :class:`~toonforge.face.tracking.FaceTracker` (detection thus overlaps the networks, which
  release the GIL);
* the calling thread stylizes ``batch_size`` frames per network call
  (:meth:`Stylizer.stylize_batch`);
* a writer thread encodes the results and remuxes the audio (:class:`~toonforge.io.video.VideoWriter`).

An exception in any stage stops the others, deletes the temporary output and is raised to the
caller; so does Ctrl-C. The output keeps the input's frame rate, frame count, rotation tag and
audio; see :mod:`toonforge.io.video` for orientation, even sizes and atomic writing.

A style may name a lighter student of itself for video (``video_style`` in its config, e.g.
``classic`` -> ``classic-lite``, ``cartoon`` -> ``cartoon-lite``, each distilled from its
teacher); :func:`video_style` picks it, as ``toonforge video`` does unless told
``--still-networks``.

Head-only mode writes a square video: each frame is the aligned, stylized crop of the largest
tracked face at ``head_size``. A frame with no tracked face (before the first face, or once a
track is lost for more than the tracker's ``max_missing`` frames) shows the centre square of the
frame, resized and stylized by the head network, so the video never has holes. Head-only
output is upright, with no rotation tag.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..face.align import align_face
from ..face.tracking import FaceTracker, IntervalFaceFinder
from ..face.types import Face
from ..io.images import resize_rgb
from ..io.video import VideoWriter, check_output, iter_media, probe_video
from ..styles.post import PostSettings
from ..styles.registry import load_style
from ..styles.style import Style
from .stylizer import Stylizer

__all__ = ["VideoReport", "stylize_video", "video_style"]

_END = object()  # end-of-stream marker in the queues
_POLL = 0.1  # seconds between checks of the stop flag while a queue is full or empty


@dataclass
class VideoReport:
    """What :func:`stylize_video` did.

    path: the written file. frames: frames written. fps: the output (= input) frame rate.
    seconds: wall time of the whole run. processing_fps: frames / seconds.
    frames_with_faces: frames that had at least one (tracked) face.
    audio_copied: the audio stream was remuxed untouched (False: no audio, or re-encoded).
    notices: remarks for the user.
    """

    path: Path
    frames: int
    fps: Fraction
    seconds: float
    processing_fps: float
    frames_with_faces: int
    audio_copied: bool
    notices: list[str] = field(default_factory=list)


def video_style(style: str | Path | Style, *, still: bool = False,
                mix: object = None) -> tuple[Style, str | None]:
    """The style to run on a video for ``style``: the video student its config names
    (``video_style``), or ``style`` itself when ``still`` is set, when a ``mix`` of a
    multi-style model is asked for, or when it names none.

    The student replaces the networks only: it runs with ``style``'s post-processing (reshape,
    skin cleanup, kept colours), so a copy of a style with another reshape or ``keep_colours``
    (``toonforge reshape``, an edited config) keeps it on video too.

    Returns the loaded style and a one-line remark when the student runs (else None).
    InputError when the named student cannot be loaded.
    """
    own = style if isinstance(style, Style) else load_style(style)
    name = own.config.video_style
    if still or mix is not None or name is None:
        return own, None
    try:
        student = load_style(name)
    except InputError as exc:
        raise InputError(f"style {own.name!r} names the video student {name!r}, which cannot be loaded "
                         f"({exc}); pass --still-networks to run {own.name!r} itself") from None
    PostSettings.of(own.config).apply_to(student.config)  # (a freshly loaded style: its folder is untouched)
    return student, f"ran {student.name!r}, the video student of {own.name!r}"


class _Stages:
    """Shared stop flag and first error of the three stages."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.errors: list[BaseException] = []

    def fail(self, exc: BaseException) -> None:
        self.errors.append(exc)
        self.stop.set()

    def put(self, q: queue.Queue, item: object) -> bool:
        """Blocking put that gives up (False) once the run is stopping."""
        while not self.stop.is_set():
            try:
                q.put(item, timeout=_POLL)
                return True
            except queue.Full:
                continue
        return False

    def get(self, q: queue.Queue) -> object:
        """Blocking get; returns ``_END`` once the run is stopping."""
        while True:
            try:
                return q.get(timeout=_POLL)
            except queue.Empty:
                if self.stop.is_set():
                    return _END

    def raise_first(self) -> None:
        if self.errors:
            raise self.errors[0]
        if self.stop.is_set():  # pragma: no cover - stop is only set together with an error
            raise RuntimeError("the video pipeline stopped without an error")


def _read(src: Path, audio: bool, find_faces: Callable[[np.ndarray, int], list[Face]], q: queue.Queue,
          stages: _Stages) -> None:
    """Decode, and find (and track) the faces of each frame: ``(rgb, faces)`` items, audio packets."""
    items = iter_media(src, audio=audio)
    index = 0
    try:
        for item in items:
            if isinstance(item, np.ndarray):
                item, index = (item, find_faces(item, index)), index + 1
            if not stages.put(q, item):
                return
        stages.put(q, _END)
    except BaseException as exc:  # noqa: BLE001 - handed to the calling thread
        stages.fail(exc)
    finally:
        items.close()


def _write(writer: VideoWriter, q: queue.Queue, stages: _Stages) -> None:
    try:
        while (item := stages.get(q)) is not _END:
            frames, packets = item
            for frame in frames:
                writer.write(frame)
            for packet in packets:
                writer.mux_audio(packet)
    except BaseException as exc:  # noqa: BLE001 - handed to the calling thread
        stages.fail(exc)


def _centre_square(rgb: np.ndarray, size: int) -> np.ndarray:
    """The centre square of an (H, W, 3) frame, resized to (size, size, 3)."""
    h, w = rgb.shape[:2]
    s = min(h, w)
    y0, x0 = (h - s) // 2, (w - s) // 2
    return resize_rgb(np.ascontiguousarray(rgb[y0:y0 + s, x0:x0 + s]), (size, size))


def stylize_video(src: str | Path, dst: str | Path, stylizer: Stylizer, *, strength: float = 1.0,
                  head_only: bool = False, head_size: int | None = None, batch_size: int = 8,
                  overwrite: bool = False, smoothing: bool = True,
                  progress: Callable[[int, int | None], None] | None = None,
                  tracker: FaceTracker | None = None, detect_every: int = 25) -> VideoReport:
    """Stylize every frame of ``src`` into ``dst`` (see the module notes).

    Args:
        src: input video; dst: output file (.mp4, .m4v, .mov or .mkv), written atomically.
        stylizer: the :class:`Stylizer` to use; its detector (may be None) runs on every frame.
        strength: in [0, 1]; 1 = full style, 0 = the input.
        head_only: write the largest face's stylized aligned crop instead of the full frame.
        head_size: side of the head-only video (default: the style's head resolution).
        batch_size: frames per network call.
        overwrite: replace an existing ``dst`` (never ``src``).
        smoothing: track faces and smooth their boxes and landmarks over time; off: raw
            per-frame detections.
        progress: called as ``progress(frames_done, total_or_None)`` after every batch.
        tracker: a configured :class:`FaceTracker` (default ``FaceTracker()``).
        detect_every: frames between full-frame face scans (1: every frame); between them
            known faces are tracked (a new face shows up within this many frames).

    Returns:
        A :class:`VideoReport`. Raises :class:`InputError` for bad input or arguments.
    """
    t0 = time.perf_counter()
    src, dst = Path(src), Path(dst)
    if not 0.0 <= strength <= 1.0:
        raise InputError(f"strength must be in [0, 1], got {strength}")
    if not 1 <= batch_size <= 256:
        raise InputError(f"batch size must be in 1..256, got {batch_size}")
    if head_size is not None and not 16 <= head_size <= 4096:
        raise InputError(f"head size must be in 16..4096, got {head_size}")
    if not 1 <= detect_every <= 1000:
        raise InputError(f"detect every must be in 1..1000 frames, got {detect_every}")
    info = probe_video(src)
    check_output(dst, src=src, overwrite=overwrite)
    head_res = stylizer.head_resolution
    out_side = head_size or head_res
    tracker = (tracker or FaceTracker()) if smoothing else None
    finder = IntervalFaceFinder(stylizer.detector, detect_every, tracker) if stylizer.detector is not None else None

    def faces_of(rgb: np.ndarray, index: int) -> list[Face]:
        return finder(rgb, float(index / info.fps)) if finder is not None else []

    def process(items: list[tuple[np.ndarray, list[Face]]]) -> tuple[list[np.ndarray], int]:
        frames, faces = [rgb for rgb, _ in items], [fs for _, fs in items]
        with_faces = sum(1 for f in faces if f)
        if not head_only:
            results = stylizer.stylize_batch(frames, faces, strength=strength)
            return [r.image for r in results], with_faces
        crops = [align_face(rgb, fs[0].landmarks, head_res).crop if fs else _centre_square(rgb, head_res)
                 for rgb, fs in zip(frames, faces)]
        heads = stylizer.stylize_crops(crops, strength=strength)
        if out_side != head_res:
            heads = [resize_rgb(h, (out_side, out_side)) for h in heads]
        return heads, with_faces

    size = (out_side, out_side) if head_only else info.display_size
    writer = VideoWriter(dst, fps=info.fps, size=size, rotation=0 if head_only else info.rotation,
                         audio_from=src if info.has_audio else None, src=src, overwrite=overwrite,
                         start_time=info.start_time)
    stages = _Stages()
    in_q: queue.Queue = queue.Queue(maxsize=2 * batch_size + 16)
    out_q: queue.Queue = queue.Queue(maxsize=2)
    reader = threading.Thread(target=_read, args=(src, info.has_audio, faces_of, in_q, stages), name="video-reader",
                              daemon=True)
    writing = threading.Thread(target=_write, args=(writer, out_q, stages), name="video-writer", daemon=True)
    done = with_faces = 0
    try:
        reader.start()
        writing.start()
        frames: list[tuple[np.ndarray, list[Face]]] = []
        packets: list = []
        finished = False
        while not finished:
            item = stages.get(in_q)
            stages.raise_first()
            finished = item is _END
            if isinstance(item, tuple):
                frames.append(item)
            elif not finished:
                packets.append(item)  # audio rides along with the next batch of frames
            if len(frames) < batch_size and not finished:
                continue
            outs: list[np.ndarray] = []
            if frames:
                outs, n_faces = process(frames)
                done, with_faces = done + len(frames), with_faces + n_faces
                frames = []
                if progress is not None:
                    progress(done, info.frame_count)
            if not stages.put(out_q, (outs, packets)):
                break
            packets = []
        stages.raise_first()
        stages.put(out_q, _END)
        writing.join()
        reader.join()
        stages.raise_first()
        writer.commit()
    except BaseException:
        stages.stop.set()
        writing.join(timeout=30)
        reader.join(timeout=30)
        writer.abort()
        raise

    notices = list(writer.notices)
    if stylizer.detector is not None and with_faces == 0:
        notices.append("no face found in any frame; " + (
            "the output shows the stylized centre square of each frame" if head_only
            else "stylized the full frames only"))
    seconds = time.perf_counter() - t0
    return VideoReport(path=dst, frames=done, fps=info.fps, seconds=seconds,
                       processing_fps=done / seconds if seconds > 0 else float("inf"),
                       frames_with_faces=with_faces, audio_copied=writer.audio_copied, notices=notices)
