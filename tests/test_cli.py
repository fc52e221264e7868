"""The toonforge command: outputs, batch behaviour, and one-line errors with exit codes."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import synthetic_face
from toonforge.cli.main import main
from toonforge.io.outputs import MARKER


@pytest.fixture
def photos(tmp_path):
    d = tmp_path / "photos"
    d.mkdir()
    for i in range(3):
        img, _ = synthetic_face(96, seed=i)
        Image.fromarray(img).save(d / f"p{i}.png")
    return d


def run(args, capsys):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_stylize_folder_then_skip(photos, tiny_style, tmp_path, capsys):
    out = tmp_path / "out"
    args = ["stylize", photos, "-o", out, "--style", tiny_style, "--detector", "none", "--quiet"]
    code, _, err = run(args, capsys)
    assert code == 0, err
    written = sorted(p.name for p in out.iterdir() if p.name != MARKER)
    assert written == ["p0.png", "p1.png", "p2.png"]
    assert Image.open(out / "p0.png").size == (96, 96)
    before = (out / "p0.png").stat().st_mtime_ns
    code, _, err = run(args[:-1], capsys)
    assert code == 0 and "skipping 3" in err
    assert (out / "p0.png").stat().st_mtime_ns == before


def test_single_file_to_file_and_size(photos, tiny_style, tmp_path, capsys):
    dst = tmp_path / "one.jpg"
    code, _, err = run(["stylize", photos / "p0.png", "-o", dst, "--style", tiny_style,
                        "--detector", "none", "--size", "64", "--strength", "0.5"], capsys)
    assert code == 0, err
    assert Image.open(dst).size == (64, 64)


def test_never_overwrites_inputs(photos, tiny_style, capsys):
    code, _, err = run(["stylize", photos, "-o", photos, "--style", tiny_style, "--detector", "none"], capsys)
    assert code == 2 and err.startswith("error:") and "is the input" in err
    code, _, err = run(["stylize", photos / "p0.png", "-o", photos / "p0.png", "--overwrite",
                        "--style", tiny_style, "--detector", "none"], capsys)
    assert code == 2 and "is the input" in err


@pytest.mark.parametrize(
    "content,match",
    [
        (b"", "empty"),
        (b"hello, I am text", "not an image"),
        (None, "truncated"),
    ],
)
def test_bad_image_files(tmp_path, tiny_style, capsys, content, match):
    bad = tmp_path / "bad.jpg"
    if content is None:
        img, _ = synthetic_face(96)
        Image.fromarray(img).save(bad, quality=90)
        content = bad.read_bytes()[: len(bad.read_bytes()) // 2]
    bad.write_bytes(content)
    code, _, err = run(["stylize", bad, "-o", tmp_path / "o.png", "--style", tiny_style,
                        "--detector", "none"], capsys)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("error:") and "bad.jpg" in err
    assert match in err.lower()


def test_usage_errors(tmp_path, photos, tiny_style, capsys):
    cases = [
        (["stylize", tmp_path / "missing.png", "-o", tmp_path / "o"], "no such file"),
        (["stylize", photos, "-o", tmp_path / "o", "--style", "nope"], "unknown style"),
        (["stylize", photos, "-o", tmp_path / "o.png", "--style", tiny_style], "looks like a file"),
        (["stylize", photos / "p0.png", "-o", tmp_path / "o.png", "--style", tiny_style,
          "--max-pixels", "100", "--detector", "none"], "limit"),
        (["export", "--style", tiny_style, "-o", tmp_path / "m.txt"], ".onnx"),
        (["stylize", photos, "-o", tmp_path / "o", "--detector", "facebook9000", "--style", tiny_style],
         "detector"),
    ]
    for args, match in cases:
        code, _, err = run(args, capsys)
        assert code == 2, (args, err)
        assert err.startswith("error:") and match in err, (args, err)
        assert "Traceback" not in err


def test_strength_usage_error_exit_code(photos, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["stylize", str(photos), "-o", str(tmp_path / "o"), "--strength", "2"])
    assert exc.value.code == 2
    assert "error: argument --strength" in capsys.readouterr().err


def test_batch_continues_past_a_bad_file(photos, tiny_style, tmp_path, capsys):
    (photos / "zz.png").write_bytes(b"not a png")
    code, _, err = run(["stylize", photos, "-o", tmp_path / "out", "--style", tiny_style,
                        "--detector", "none", "--quiet"], capsys)
    assert code == 2 and "1 of 4 images failed" in err
    assert len([p for p in (tmp_path / "out").iterdir() if p.name != MARKER]) == 3


def test_export_and_styles(tiny_style, tmp_path, capsys, monkeypatch):
    code, out, err = run(["export", "--style", tiny_style, "-o", tmp_path / "m.onnx"], capsys)
    assert code == 0, err
    assert (tmp_path / "m.onnx").is_file() and "parity max abs diff" in out
    code, _, err = run(["export", "--style", tiny_style, "-o", tmp_path / "m.onnx"], capsys)
    assert code == 2 and "already exists" in err
    monkeypatch.setenv("TOONFORGE_STYLES", str(tiny_style.parent))
    code, out, _ = run(["styles"], capsys)
    assert code == 0 and "tiny-test" in out and "filter" in out and "Untrained test style." in out
    # One column start for every row's resolution, however long the names (colour-sketch is 13).
    ends = {re.match(r"(\S+)\s+(\S+)", line).end(2) for line in out.splitlines()}  # right-aligned res column
    assert len(ends) == 1, out


def test_console_script_has_no_traceback(tmp_path):
    bad = tmp_path / "x.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    proc = subprocess.run([sys.executable, "-m", "toonforge.cli", "stylize", str(bad), "-o",
                           str(tmp_path / "o.png"), "--style", "filter", "--detector", "none"],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error:") and "Traceback" not in proc.stderr


def test_alpha_survives_png(tmp_path, tiny_style, capsys):
    rgba = np.zeros((64, 64, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[..., 3] = np.linspace(0, 255, 64, dtype=np.uint8)[None]
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    code, _, err = run(["stylize", tmp_path / "a.png", "-o", tmp_path / "b.png", "--style", tiny_style,
                        "--detector", "none"], capsys)
    assert code == 0, err
    out = Image.open(tmp_path / "b.png")
    assert out.mode == "RGBA"
    assert np.array_equal(np.asarray(out)[..., 3], rgba[..., 3])
