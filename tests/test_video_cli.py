"""``toonforge video``: outputs, overwrite rules, and one-line errors that leave nothing behind."""

from __future__ import annotations

import av
import numpy as np
import pytest

from test_video import audio_seconds, listing, make_clip
from toonforge.cli.main import main
from toonforge.io.video import probe_video


def run(args, capsys):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def clip(tmp_path):
    d = tmp_path / "clips"
    d.mkdir()
    src = d / "in.mp4"
    make_clip(src, w=65, h=47, n=10, rotation=90)
    return src


def test_video_command_writes_a_stylized_video_with_audio(clip, tiny_style, capsys):
    dst = clip.parent / "out.mp4"
    before = clip.read_bytes()
    args = ["video", clip, "-o", dst, "--style", tiny_style, "--detector", "none", "--batch-size", "4",
            "--strength", "0.5", "--quiet"]
    code, out, err = run(args, capsys)
    assert code == 0, err
    assert "10 frames" in out and "audio copied" in out and len(out.splitlines()) == 1
    info = probe_video(dst)
    assert (info.frame_count, info.fps, info.rotation, info.width, info.height) == (10, 25, 90, 66, 48)
    assert audio_seconds(dst)[0] == "aac" and clip.read_bytes() == before

    stamp = dst.stat().st_mtime_ns
    code, _, err = run(args, capsys)  # exists: refused, untouched
    assert code == 2 and err.startswith("error:") and "--overwrite" in err and dst.stat().st_mtime_ns == stamp
    code, _, err = run(args + ["--overwrite", "--strength", "0"], capsys)
    assert code == 0, err
    code, _, err = run(["video", clip, "-o", clip, "--overwrite", "--style", tiny_style, "--detector", "none"], capsys)
    assert code == 2 and "overwrite an input" in err and clip.read_bytes() == before
    assert listing(clip.parent) == ["in.mp4", "out.mp4"]


def test_head_only_and_progress_bar(clip, tiny_style, capsys):
    dst = clip.parent / "head.mp4"
    code, out, err = run(["video", clip, "-o", dst, "--style", tiny_style, "--detector", "none", "--head-only",
                          "--head-size", "32", "--no-smoothing"], capsys)
    assert code == 0, err
    assert "frame" in err and "10/10" in err  # the tqdm bar
    info = probe_video(dst)
    assert (info.width, info.height, info.rotation, info.frame_count) == (32, 32, 0, 10)


def _truncated(d):
    src = d / "cut.mp4"
    make_clip(src, n=20)
    data = src.read_bytes()
    src.write_bytes(data[: len(data) // 2])  # the index (at the end) is gone
    return src


def _truncated_midstream(d):
    src = d / "cut2.mp4"
    make_clip(src, n=40, audio=None, options={"movflags": "faststart"})
    data = src.read_bytes()
    src.write_bytes(data[: len(data) * 85 // 100])  # the index (first) survives, the last frames do not
    return src


def _text(d):
    src = d / "notes.mp4"
    src.write_text("this is not a video\n" * 20)
    return src


def _audio_only(d):
    src = d / "sound.m4a"
    with av.open(str(src), "w", format="mp4") as out:
        a = out.add_stream("aac", rate=16000)
        a.layout = "mono"
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate, frame.pts = 16000, 0
        out.mux(a.encode(frame))
        out.mux(a.encode())
    return src


@pytest.mark.parametrize("make, words", [(_truncated, "not a readable video"), (_truncated_midstream, "truncated"),
                                         (_text, "not a readable video"), (_audio_only, "no video stream")])
def test_bad_input_gives_one_error_line_and_no_output(tmp_path, tiny_style, capsys, make, words):
    d = tmp_path / "clips"
    d.mkdir()
    src = make(d)
    before = listing(d)
    code, out, err = run(["video", src, "-o", d / "out.mp4", "--style", tiny_style, "--detector", "none",
                          "--strength", "0", "--quiet"], capsys)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and err.startswith("error:") and words in err, err
    assert listing(d) == before  # no output, no temporary file


def test_missing_input_and_bad_arguments(tmp_path, tiny_style, capsys):
    code, _, err = run(["video", tmp_path / "nope.mp4", "-o", tmp_path / "o.mp4"], capsys)
    assert code == 2 and "no such file" in err
    with pytest.raises(SystemExit) as exc:
        main(["video", str(tmp_path / "nope.mp4"), "-o", str(tmp_path / "o.mp4"), "--batch-size", "0"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.startswith("error:") and "batch size" in err
