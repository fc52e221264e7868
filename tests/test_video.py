"""Video I/O and the video pipeline on tiny clips the tests make themselves."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from conftest import FixedDetector, synthetic_face
from toonforge.errors import InputError
from toonforge.face.types import Face
from toonforge.io.video import VideoWriter, check_output, iter_media, probe_video, read_frames, to_stored, to_upright
from toonforge.pipelines import Stylizer
from toonforge.pipelines.video import stylize_video

SR = 16000  # sample rate of the test audio


def make_clip(path: Path, w: int = 64, h: int = 48, n: int = 12, fps: Fraction = Fraction(25), rotation: int = 0,
              audio: str | None = "aac", options: dict | None = None, seed: int = 0) -> np.ndarray:
    """Write a clip of smooth random frames drifting sideways; returns the stored frames (n, h, w, 3).

    Odd sizes are stored as yuv444p (yuv420p needs even sides); ``audio`` is an encoder name or
    None; ``rotation`` becomes the display matrix.
    """
    rng = np.random.default_rng(seed)
    coarse = rng.integers(40, 216, (4, 6, 3), dtype=np.uint8)
    base = cv2.resize(coarse, (w + 2 * n, h), interpolation=cv2.INTER_LINEAR)
    frames = np.stack([base[:, 2 * i:2 * i + w] for i in range(n)])
    with av.open(str(path), "w", options=options or {}) as out:
        v = out.add_stream("libx264", rate=fps)
        v.width, v.height = w, h
        v.pix_fmt = "yuv420p" if w % 2 == 0 and h % 2 == 0 else "yuv444p"
        if rotation:
            v.set_display_rotation(rotation)
        a = None
        if audio:
            rate = 8000 if audio.startswith("pcm_") else SR
            a = out.add_stream(audio, rate=rate)
            a.layout = "mono"
        for i, rgb in enumerate(frames):
            f = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            f.pts = i
            out.mux(v.encode(f))
        out.mux(v.encode())
        if a is not None:
            total = int(a.rate * n / fps)
            wave = (0.3 * np.sin(np.arange(total) * 2 * np.pi * 440 / a.rate)).astype(np.float32)
            resampler = av.AudioResampler(format=a.format, layout="mono", rate=a.rate, frame_size=a.frame_size or 1024)
            src = av.AudioFrame.from_ndarray(wave[None], format="flt", layout="mono")
            src.sample_rate, src.pts = a.rate, 0
            for f in resampler.resample(src) + resampler.resample(None):
                out.mux(a.encode(f))
            out.mux(a.encode())
    return frames


def audio_seconds(path: Path) -> tuple[str, float, float]:
    """(codec, duration in seconds from the packets, duration of one audio packet)."""
    with av.open(str(path)) as c:
        s = c.streams.audio[0]
        first, end, step = None, 0.0, 0.0
        for p in c.demux(s):
            if p.pts is None:
                continue
            t0 = float(p.pts * p.time_base)
            first = t0 if first is None else min(first, t0)
            end = max(end, t0 + float(p.duration * p.time_base))
            step = max(step, float(p.duration * p.time_base))
        return s.codec_context.name, end - (first or 0.0), step


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name != "tiny-test")


@pytest.fixture
def stylizer(tiny_style):
    return Stylizer(tiny_style, detector=None)


def test_probe_reports_what_the_clip_is(tmp_path):
    src = tmp_path / "in.mp4"
    make_clip(src, w=65, h=47, n=10, fps=Fraction(30000, 1001), rotation=90)
    info = probe_video(src)
    assert (info.width, info.height, info.rotation, info.display_size) == (65, 47, 90, (47, 65))
    assert info.fps == Fraction(30000, 1001) and info.frame_count == 10
    assert info.has_audio and info.audio_codec == "aac" and info.codec == "h264"
    frames = list(read_frames(src))
    assert len(frames) == 10 and frames[0].shape == (65, 47, 3) and frames[0].dtype == np.uint8


def test_rotation_convention():
    # FFmpeg's players turn a frame whose display matrix reads +90 (counter-clockwise) with
    # transpose=cclock: the stored top-left corner ends up bottom-left.
    stored = np.zeros((4, 6, 3), np.uint8)
    stored[0, 0] = 255
    up = to_upright(stored, 90)
    assert up.shape == (6, 4, 3) and up[5, 0, 0] == 255
    assert to_upright(stored, 270)[0, 3, 0] == 255 and to_upright(stored, 180)[3, 5, 0] == 255
    for r in (0, 90, 180, 270):
        assert np.array_equal(to_stored(to_upright(stored, r), r), stored)


@pytest.mark.parametrize("w, h, rotation, audio", [(65, 47, 90, "aac"), (64, 48, 0, None), (50, 38, 270, "aac")])
def test_video_keeps_count_fps_audio_and_orientation(tmp_path, stylizer, w, h, rotation, audio):
    src, dst = tmp_path / "in.mp4", tmp_path / "out" / "out.mp4"
    make_clip(src, w=w, h=h, n=14, rotation=rotation, audio=audio)
    before = src.read_bytes()
    seen = []
    report = stylize_video(src, dst, stylizer, strength=0.0, batch_size=4, progress=lambda d, t: seen.append((d, t)))
    assert src.read_bytes() == before
    a, b = probe_video(src), probe_video(dst)
    assert report.frames == b.frame_count == a.frame_count == 14 and report.fps == b.fps == a.fps
    assert abs(b.duration - a.duration) < 1e-6
    assert b.rotation == rotation and (b.width, b.height) == (w + w % 2, h + h % 2)  # padded to even
    assert seen[-1] == (14, 14) and [d for d, _ in seen] == [4, 8, 12, 14]
    # strength 0 is the identity: what a player shows must match the input up to the padding
    for x, y in zip(read_frames(src), read_frames(dst)):
        y = y[:x.shape[0], :x.shape[1]].astype(int)
        assert np.abs(x - y).mean() < 4 < np.abs(x[::-1, ::-1] - y).mean()
    assert report.audio_copied == (audio is not None) and b.has_audio == (audio is not None)
    if audio:
        (ca, da, step), (cb, db, _) = audio_seconds(src), audio_seconds(dst)
        assert ca == cb and abs(da - db) <= step
    assert listing(dst.parent) == ["out.mp4"]


def test_output_is_stylized_and_even_and_rotated_back(tmp_path, stylizer):
    src, dst = tmp_path / "in.mp4", tmp_path / "out.mkv"
    make_clip(src, w=65, h=47, n=6, rotation=90, audio=None)
    report = stylize_video(src, dst, stylizer)
    out = list(read_frames(dst))
    assert report.frames == 6 and out[0].shape == (66, 48, 3)
    inp = list(read_frames(src))
    assert np.abs(out[0][:65, :47].astype(int) - inp[0]).mean() > 5


def test_stylize_batch_matches_per_frame_calls(tiny_style, monkeypatch):
    import toonforge.pipelines.stylizer as mod

    monkeypatch.setattr(mod, "HEAD_CHUNK", 2)  # 3 heads: chunks of 2 and 1
    imgs = [synthetic_face(64, seed=i)[0] for i in range(3)]
    _, face = synthetic_face(64)
    shifted = Face(face.box + 3, face.landmarks + 3, 1.0)
    faces = [[face], [], [face, shifted]]
    s = Stylizer(tiny_style, detector=FixedDetector([]))
    for head_only in (False, True):
        batch = s.stylize_batch(imgs, faces, strength=0.8, head_only=head_only)
        for img, fs, r in zip(imgs, faces, batch):
            one = s(img, faces=fs, strength=0.8, head_only=head_only)
            if not head_only:
                assert np.abs(one.image.astype(int) - r.image).max() <= 1
            assert len(one.heads) == len(r.heads) == len(fs)
            for h1, h2 in zip(one.heads, r.heads):
                assert np.abs(h1.astype(int) - h2).max() <= 1
            assert one.notices == r.notices
    assert "no face" in batch[1].notices[0]
    with pytest.raises(InputError, match="one size"):
        s.stylize_batch([imgs[0], imgs[0][:32]], [[], []])


def test_onnx_backend_batches_like_torch(tiny_style, tmp_path):
    imgs = [synthetic_face(64, seed=i)[0] for i in range(2)]
    _, face = synthetic_face(64)
    onnx = Stylizer(tiny_style, backend="onnx", detector=None).stylize_batch(imgs, [[face], [face]])
    torch_one = [Stylizer(tiny_style, backend="torch", detector=None)(img, faces=[face]) for img in imgs]
    for a, b in zip(onnx, torch_one):
        assert np.abs(a.image.astype(int) - b.image).max() <= 1


def test_faces_argument_skips_detection(tiny_style):
    img, face = synthetic_face(96)

    class Boom:
        def __call__(self, rgb):
            raise AssertionError("detector must not run")

    r = Stylizer(tiny_style, detector=Boom())(img, faces=[face])
    assert len(r.heads) == 1


class JitterDetector:
    """Returns the face of ``synthetic_face`` shifted by random jitter, or nothing on given calls."""

    def __init__(self, face: Face, jitter: float, missing: set[int] = frozenset(), seed: int = 0):
        self.face, self.jitter, self.missing, self.calls = face, jitter, missing, 0
        self.rng = np.random.default_rng(seed)

    def __call__(self, rgb):
        i, self.calls = self.calls, self.calls + 1
        if i in self.missing:
            return []
        d = self.rng.normal(0, self.jitter, 2).astype(np.float32)
        return [Face(self.face.box + np.tile(d, 2), self.face.landmarks + d, 1.0)]


def test_smoothing_feeds_steadier_faces_to_the_stylizer(tmp_path, tiny_style, monkeypatch):
    src = tmp_path / "in.mp4"
    make_clip(src, w=96, h=96, n=20, audio=None)
    _, face = synthetic_face(96)
    spread = {}
    for smoothing in (False, True):
        s = Stylizer(tiny_style, detector=JitterDetector(face, 1.5))
        used: list[np.ndarray] = []

        def spy(frames, faces, _used=used, **kw):  # records the faces; the networks are not needed here
            _used += [fs[0].landmarks.mean(axis=0) for fs in faces]
            return [type("R", (), {"image": f})() for f in frames]

        monkeypatch.setattr(s, "stylize_batch", spy)
        report = stylize_video(src, tmp_path / f"o{smoothing}.mp4", s, smoothing=smoothing, batch_size=6)
        assert report.frames == 20 and report.frames_with_faces == 20
        spread[smoothing] = np.diff(np.array(used), axis=0).std()
    assert spread[True] < spread[False] / 2


def test_head_only_video_is_square_and_fills_faceless_frames(tmp_path, tiny_style):
    src, dst = tmp_path / "in.mp4", tmp_path / "heads.mp4"
    make_clip(src, w=64, h=64, n=16, rotation=90)
    _, face = synthetic_face(64)
    missing = set(range(0, 3)) | set(range(6, 15))  # a gap longer than max_missing
    s = Stylizer(tiny_style, detector=JitterDetector(face, 0.5, missing))
    report = stylize_video(src, dst, s, head_only=True, head_size=50)
    info = probe_video(dst)
    assert (info.width, info.height, info.rotation, info.frame_count) == (50, 50, 0, 16)
    assert report.frames_with_faces == 3 + 5 + 1  # frames 3-5, 5 coasting frames, frame 15
    assert report.audio_copied


def test_overwrite_rules_and_input_protection(tmp_path, stylizer):
    src, dst = tmp_path / "in.mp4", tmp_path / "out.mp4"
    make_clip(src, n=4, audio=None)
    dst.write_bytes(b"keep me")
    with pytest.raises(InputError, match="exists"):
        stylize_video(src, dst, stylizer)
    assert dst.read_bytes() == b"keep me"
    stylize_video(src, dst, stylizer, overwrite=True, strength=0.0)
    assert probe_video(dst).frame_count == 4
    with pytest.raises(InputError, match="overwrite an input"):
        check_output(src, src=src, overwrite=True)
    with pytest.raises(InputError, match="must end in"):
        check_output(tmp_path / "x.gif")
    assert listing(tmp_path) == ["in.mp4", "out.mp4"]


def test_failure_midway_deletes_the_temporary_file(tmp_path, stylizer, monkeypatch):
    src, dst = tmp_path / "in.mp4", tmp_path / "out.mp4"
    make_clip(src, n=12)
    calls = []

    def broken(frames, faces, **kw):
        calls.append(len(frames))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return [type("R", (), {"image": f})() for f in frames]

    monkeypatch.setattr(stylizer, "stylize_batch", broken)
    with pytest.raises(KeyboardInterrupt):
        stylize_video(src, dst, stylizer, batch_size=4)
    assert listing(tmp_path) == ["in.mp4"]


def test_truncated_stream_names_the_frame(tmp_path):
    src = tmp_path / "in.mp4"
    make_clip(src, w=64, h=48, n=40, audio=None, options={"movflags": "faststart"})
    data = src.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) * 85 // 100])  # index first, then the frames: the last ones are cut
    with pytest.raises(InputError, match=r"truncated.*frame \d+"):
        list(iter_media(cut))


def test_audio_the_container_cannot_hold_is_reencoded(tmp_path, stylizer):
    src, dst = tmp_path / "in.mov", tmp_path / "out.mp4"
    make_clip(src, n=10, audio="pcm_mulaw")
    report = stylize_video(src, dst, stylizer, strength=0.0)
    assert not report.audio_copied and any("AAC" in n for n in report.notices)
    (_, da, _), (cb, db, step) = audio_seconds(src), audio_seconds(dst)
    assert cb == "aac" and abs(da - db) <= 2 * step


def test_writer_checks_frames(tmp_path):
    with VideoWriter(tmp_path / "w.mp4", fps=Fraction(10), size=(31, 17), rotation=180) as w:
        with pytest.raises(ValueError, match="31x17"):
            w.write(np.zeros((31, 17, 3), np.uint8))
        w.write(np.zeros((17, 31, 3), np.uint8))
    info = probe_video(tmp_path / "w.mp4")
    assert (info.width, info.height, info.rotation, info.frame_count) == (32, 18, 180, 1)
