"""Video files with PyAV: probing, upright RGB frames, and an atomic H.264 writer.

Orientation. Phones store portrait clips as landscape pictures plus a display matrix
("rotation") telling players to turn them. :func:`iter_media` yields frames *upright* (as
displayed), so faces are upright for detection. :class:`VideoWriter` turns the processed
frames back to the stored orientation and writes the same rotation tag: the output keeps the
input's stored size, its tag, and its look in every player. Rotations are multiples of 90
degrees, counter-clockwise as FFmpeg reports them (``VideoFrame.rotation``); mirrored display
matrices are read as their rotation only.

Even sizes. H.264 in yuv420p needs even width and height: an odd stored side is *padded* by one
pixel on the bottom/right (stored orientation) repeating the last row/column; nothing is cut.

Atomicity. The writer encodes into a hidden temporary file beside the destination, renamed onto
it only when all went well; any failure (or Ctrl-C) deletes it. An existing destination is
replaced only with ``overwrite=True``; the input never.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from ..errors import InputError, first_line
from .files import hold_lock, remove_stale_temps, use_umask

__all__ = ["OUTPUT_EXTENSIONS", "VideoInfo", "VideoWriter", "check_output", "iter_media", "probe_video",
           "read_frames", "to_stored", "to_upright", "video_codec"]

OUTPUT_EXTENSIONS = (".mp4", ".m4v", ".mov", ".mkv")


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe_video` learns about a file.

    width, height: the stored picture size in pixels (before rotation).
    fps: frame rate as a Fraction (the stream's average rate).
    frame_count: frames according to the container (its index, or duration x fps when it has
        none, e.g. Matroska); None when unknown.
    duration: seconds of the video stream (the container's when the stream has none), or None.
    rotation: display rotation in degrees, counter-clockwise: 0, 90, 180 or 270.
    has_audio: the file has an audio stream (the first one is the one copied).
    codec: video codec name (e.g. "h264"); audio_codec likewise, or None.
    start_time: seconds at which the first frame is shown (0 for most files).
    """

    path: Path
    width: int
    height: int
    fps: Fraction
    frame_count: int | None
    duration: float | None
    rotation: int
    has_audio: bool
    codec: str
    audio_codec: str | None = None
    start_time: float = 0.0

    @property
    def display_size(self) -> tuple[int, int]:
        """(width, height) as shown by a player, i.e. of the upright frames."""
        return (self.height, self.width) if self.rotation in (90, 270) else (self.width, self.height)


def _describe(exc: BaseException) -> str:
    return first_line(getattr(exc, "strerror", None) or exc)


def _open_input(path: Path) -> av.container.InputContainer:
    if not path.exists():
        raise InputError(f"no such file: {path}")
    if not path.is_file():
        raise InputError(f"not a file: {path}")
    try:
        return av.open(str(path), "r")
    except (av.FFmpegError, OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{path.name} is not a readable video ({_describe(exc)})") from None


def _video_stream(container: av.container.InputContainer, path: Path) -> av.video.stream.VideoStream:
    if not container.streams.video:
        raise InputError(f"{path.name} has no video stream")
    stream = container.streams.video[0]
    if stream.codec_context is None:
        name = getattr(getattr(stream, "codec", None), "name", None) or "unknown"
        raise InputError(f"{path.name}: unsupported video codec {name!r} (no decoder in this FFmpeg)")
    return stream


def _rotation(degrees: float) -> int:
    return int(round(float(degrees) / 90.0)) % 4 * 90


def probe_video(path: str | os.PathLike[str]) -> VideoInfo:
    """Read a video's properties and decode its first frame (to learn the rotation and to be
    sure it decodes). Raises :class:`InputError` with a one-line message when the file is
    missing, not a video, has no video stream, no usable frame rate, or cannot be decoded."""
    path = Path(path)
    container = _open_input(path)
    try:
        stream = _video_stream(container, path)
        fps = stream.average_rate or stream.guessed_rate or stream.base_rate
        if not fps or fps <= 0:
            raise InputError(f"{path.name}: the video stream has no frame rate")
        fps = Fraction(fps).limit_denominator(1_000_000)
        try:
            first = next(container.decode(stream), None)
        except av.FFmpegError as exc:
            raise InputError(f"{path.name}: cannot decode the video ({_describe(exc)})") from None
        if first is None:
            raise InputError(f"{path.name}: the video stream has no frames")
        duration = (float(stream.duration * stream.time_base) if stream.duration and stream.time_base
                    else container.duration / 1e6 if container.duration else None)
        count = int(stream.frames) if stream.frames else (round(duration * fps) if duration else None)
        audio = container.streams.audio
        return VideoInfo(path=path, width=first.width, height=first.height, fps=fps, frame_count=count,
                         duration=duration, rotation=_rotation(first.rotation), has_audio=bool(audio),
                         codec=stream.codec_context.name,
                         audio_codec=audio[0].codec_context.name if audio and audio[0].codec_context else None,
                         start_time=float(first.time or 0.0))
    finally:
        container.close()


def to_upright(stored: np.ndarray, rotation: int) -> np.ndarray:
    """Stored (H, W, C) picture -> as displayed, given the counter-clockwise ``rotation``."""
    return np.ascontiguousarray(np.rot90(stored, k=(rotation // 90) % 4))


def to_stored(upright: np.ndarray, rotation: int) -> np.ndarray:
    """Inverse of :func:`to_upright`."""
    return to_upright(upright, -rotation)


def iter_media(path: str | os.PathLike[str], *, audio: bool = True) -> Iterator[np.ndarray | av.Packet]:
    """Decode a video in file order.

    Yields upright (H, W, 3) uint8 RGB frames (see the module notes on rotation) and, with
    ``audio``, the first audio stream's packets untouched (``av.Packet``, for remuxing),
    interleaved as they are stored. Raises :class:`InputError` naming the frame where decoding
    failed, or when the stream ends clearly before the frame count its container announces
    (a truncated file).
    """
    path = Path(path)
    container = _open_input(path)
    try:
        stream = _video_stream(container, path)
        stream.thread_type = "AUTO"
        streams = [stream] + ([container.streams.audio[0]] if audio and container.streams.audio else [])
        expected = int(stream.frames) if stream.frames else None
        rotation, n = None, 0
        try:
            for packet in container.demux(streams):
                if packet.stream.type == "audio":
                    if packet.dts is not None:
                        yield packet
                    continue
                for frame in stream.decode(packet):
                    rotation = _rotation(frame.rotation) if rotation is None else rotation
                    yield to_upright(frame.to_ndarray(format="rgb24"), rotation)
                    n += 1
        except av.FFmpegError as exc:
            raise InputError(f"{path.name} is truncated or corrupt at frame {n} ({_describe(exc)})") from None
        # A cut-off file whose index survived decodes without complaint but ends early; allow
        # a frame or two (and 2 %) of slack for edit lists.
        if expected and n < expected - max(2, expected // 50):
            raise InputError(f"{path.name} is truncated: the video stops at frame {n} of {expected}")
        if n == 0:
            raise InputError(f"{path.name}: the video stream has no frames")
    finally:
        container.close()


def read_frames(path: str | os.PathLike[str]) -> Iterator[np.ndarray]:
    """The upright (H, W, 3) uint8 RGB frames of a video (see :func:`iter_media`)."""
    yield from iter_media(path, audio=False)  # type: ignore[misc]


def check_output(dst: str | os.PathLike[str], *, src: str | os.PathLike[str] | None = None,
                 overwrite: bool = False) -> Path:
    """Refuse unusable outputs: the input itself, an existing file (unless ``overwrite``), a
    folder, or an extension other than :data:`OUTPUT_EXTENSIONS`. Returns ``dst`` as a Path."""
    dst = Path(dst)
    if dst.suffix.lower() not in OUTPUT_EXTENSIONS:
        raise InputError(f"output {dst} must end in one of {', '.join(OUTPUT_EXTENSIONS)}")
    if src is not None and (Path(src).resolve() == dst.resolve()
                            or (dst.exists() and Path(src).exists() and os.path.samefile(src, dst))):
        raise InputError(f"output {dst} would overwrite an input")
    if dst.is_dir():
        raise InputError(f"output {dst} is a folder; give a file name like out.mp4")
    if dst.exists() and not overwrite:
        raise InputError(f"output {dst} exists (use --overwrite to replace it)")
    return dst


def video_codec() -> str:
    """The encoder used: libx264 when this FFmpeg has it, else mpeg4."""
    return "libx264" if "libx264" in av.codecs_available else "mpeg4"


class VideoWriter:
    """Encode upright RGB frames into a video file, atomically (see the module notes).

    Args:
        dst: output path (.mp4, .m4v, .mov or .mkv).
        fps: constant frame rate of the output.
        size: (width, height) of the upright frames that :meth:`write` takes.
        rotation: display rotation to write (the input's), counter-clockwise degrees.
        audio_from: a file whose first audio stream is remuxed (packets via
            :meth:`mux_audio`); re-encoded to AAC only if the container cannot hold its codec.
        src: the input path, never to be overwritten; overwrite: replace an existing ``dst``.
        start_time: seconds of the first frame in the input (keeps audio in sync).
        crf, preset: libx264 quality (lower crf = better) and speed.

    Use as a context manager: leaving the block normally finishes the file; an exception
    deletes the temporary file. ``notices`` collects remarks (e.g. audio re-encoded).
    """

    def __init__(self, dst: str | os.PathLike[str], *, fps: Fraction, size: tuple[int, int], rotation: int = 0,
                 audio_from: str | os.PathLike[str] | None = None, src: str | os.PathLike[str] | None = None,
                 overwrite: bool = False, start_time: float = 0.0, crf: int = 18, preset: str = "veryfast") -> None:
        self.dst = check_output(dst, src=src, overwrite=overwrite)
        self.overwrite, self.rotation, self.notices = overwrite, _rotation(rotation), []
        self.size, self.fps, self.audio_copied = (int(size[0]), int(size[1])), Fraction(fps), False
        if min(self.size) < 1 or self.fps <= 0:
            raise InputError(f"bad output size {size} or frame rate {fps}")
        self.frames, self._pts0 = 0, max(0, round(start_time * self.fps))
        self.dst.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(self.dst)
        self._lock, name = tempfile.mkstemp(prefix=f".{self.dst.stem}.", suffix=f".part{self.dst.suffix}",
                                            dir=self.dst.parent)
        hold_lock(self._lock)  # while this writer lives, a later run leaves its temporary file alone
        self.tmp, self._out, self._audio_in, self._resampler = Path(name), None, None, None
        try:
            self._out = av.open(name, "w", format=None)
            self._setup_video(crf, preset)
            self._audio = self._setup_audio(Path(audio_from)) if audio_from else None
        except BaseException as exc:
            self.abort()
            if isinstance(exc, av.FFmpegError):
                raise InputError(f"cannot write {self.dst.name}: {_describe(exc)}") from None
            raise

    def _setup_video(self, crf: int, preset: str) -> None:
        w, h = self.size if self.rotation in (0, 180) else self.size[::-1]  # stored orientation
        codec = video_codec()
        opts = {"crf": str(crf), "preset": preset} if codec == "libx264" else {}
        self._video = self._out.add_stream(codec, rate=self.fps, options=opts, pix_fmt="yuv420p")
        self._video.width, self._video.height = w + w % 2, h + h % 2
        self._video.codec_context.time_base = 1 / self.fps
        if codec == "mpeg4":
            self._video.bit_rate = int(min(2e7, 0.2 * w * h * float(self.fps)))
        if self.rotation:
            self._video.set_display_rotation(self.rotation)

    def _setup_audio(self, src: Path):
        self._audio_in = av.open(str(src), "r")
        template = self._audio_in.streams.audio[0] if self._audio_in.streams.audio else None
        if template is None or template.codec_context is None:
            return None
        name = template.codec_context.name
        if name in self._out.supported_codecs:
            self.audio_copied = True
            return self._out.add_stream_from_template(template)
        self.notices.append(f"the {self.dst.suffix} container cannot hold {name} audio; re-encoded it to AAC")
        self._decoder = template
        enc = self._out.add_stream("aac", rate=template.codec_context.sample_rate)
        enc.layout = template.codec_context.layout
        return enc

    def write(self, rgb: np.ndarray) -> None:
        """Append one upright (H, W, 3) uint8 RGB frame of the writer's ``size``."""
        if rgb.dtype != np.uint8 or rgb.shape != (self.size[1], self.size[0], 3):
            raise ValueError(f"expected a {self.size[0]}x{self.size[1]} uint8 RGB frame, got {rgb.dtype} {rgb.shape}")
        stored = to_stored(rgb, self.rotation)
        ph, pw = self._video.height - stored.shape[0], self._video.width - stored.shape[1]
        if ph or pw:
            stored = np.pad(stored, ((0, ph), (0, pw), (0, 0)), mode="edge")
        frame = av.VideoFrame.from_ndarray(stored, format="rgb24").reformat(format="yuv420p")
        frame.pts = self._pts0 + self.frames
        self._out.mux(self._video.encode(frame))
        self.frames += 1

    def mux_audio(self, packet: av.Packet) -> None:
        """Add one packet of the ``audio_from`` file's first audio stream (copied as it is)."""
        if self._audio is not None and self.audio_copied:
            packet.stream = self._audio
            self._out.mux(packet)
        elif self._audio is not None:
            for frame in self._decoder.decode(packet):
                self._encode_audio(frame)

    def _encode_audio(self, frame: av.AudioFrame | None) -> None:
        """Re-encode one decoded audio frame (None: flush the resampler and the encoder)."""
        if self._resampler is None:
            self._resampler = av.AudioResampler(format=self._audio.format, layout=self._audio.layout,
                                                rate=self._audio.rate, frame_size=self._audio.frame_size or 1024)
        for f in self._resampler.resample(frame) + ([None] if frame is None else []):
            self._out.mux(self._audio.encode(f))

    def commit(self) -> Path:
        """Flush the encoders, close the file and move it onto ``dst``; returns ``dst``."""
        try:
            return self._commit()
        except BaseException:
            self.abort()
            raise

    def _commit(self) -> Path:
        if self.frames == 0:
            raise InputError("no frames to write")
        self._out.mux(self._video.encode(None))
        if self._audio is not None and not self.audio_copied:
            for frame in [*self._decoder.decode(None), None]:
                self._encode_audio(frame)
        self._close()
        if self.dst.exists() and not self.overwrite:
            raise InputError(f"output {self.dst} appeared while writing; left it alone")
        use_umask(self.tmp)  # mkstemp made it 0600
        os.replace(self.tmp, self.dst)
        self._unlock()
        return self.dst

    def _unlock(self) -> None:
        lock, self._lock = getattr(self, "_lock", None), None
        if lock is not None:
            os.close(lock)

    def abort(self) -> None:
        """Close quietly and delete the temporary file (safe to call more than once)."""
        try:
            self._close()
        except Exception:  # noqa: BLE001 - a broken file is being thrown away anyway
            pass
        self.tmp.unlink(missing_ok=True)
        self._unlock()

    def _close(self) -> None:
        out, self._out = self._out, None
        src, self._audio_in = self._audio_in, None
        try:
            out and out.close()
        finally:
            src and src.close()

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.commit() if exc_type is None else self.abort()

