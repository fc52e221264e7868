"""``toonforge align``: aligned and full crops, resume without overwriting, and one-line refusals."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from conftest import FacesOnlyOn, shared_data, synthetic_face
from toonforge.cli.main import main
from toonforge.face.align import align_face
from toonforge.io.images import load_image
from toonforge.io.outputs import MARKER
from toonforge.pipelines.align_folder import align_folder
from toonforge.pipelines.crops import square_image


def test_aligned_crops_match_the_stylizer_alignment_and_list_faceless_inputs(tmp_path):
    img, face = synthetic_face(120, seed=3)
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(img).save(src / "face.png")
    Image.fromarray(img[::-1]).save(src / "upside.png")
    rep = align_folder(src, tmp_path / "out", size=48, detector=FacesOnlyOn([face], img), quiet=True)
    assert rep.made == 1 and rep.problems == [(str(src / "upside.png"), "no face found")]
    got = load_image(tmp_path / "out" / "face.png").rgb
    assert got.shape == (48, 48, 3)
    np.testing.assert_array_equal(got, align_face(img, face.landmarks, 48).crop)
    assert sorted(p.name for p in (tmp_path / "out").iterdir() if p.name != MARKER) == ["face.png"]


def test_full_crops_pad_without_cutting_and_resume_keeps_existing_files(tmp_path):
    rng = np.random.default_rng(0)
    src = tmp_path / "in"
    src.mkdir()
    wide = rng.integers(0, 255, (30, 60, 3), dtype=np.uint8)
    Image.fromarray(wide).save(src / "wide.png")
    Image.fromarray(wide[:, :30]).save(src / "square.png")
    out = tmp_path / "out"
    out.mkdir()
    mine = np.full((8, 8, 3), 7, np.uint8)
    Image.fromarray(mine).save(out / "square.png")  # a user's file with a colliding name: kept
    rep = align_folder(src, out, size=32, crop="full", quiet=True)
    assert (rep.made, rep.already_done, rep.problems) == (1, 1, [])
    np.testing.assert_array_equal(load_image(out / "wide.png").rgb, square_image(wide, 32))
    np.testing.assert_array_equal(load_image(out / "square.png").rgb, mine)
    again = align_folder(src, out, size=32, crop="full", quiet=True)
    assert (again.made, again.already_done) == (0, 2)


def _align(*args: str) -> int:
    return main(["align", "--quiet", *args])


def test_refusals_are_one_line_and_exit_2(tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.png").write_bytes(b"not an image")
    (src / "b.jpg").write_bytes(b"")
    assert _align("--in", str(src), "--out", str(tmp_path / "o"), "--crop", "full") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: no crops made: all 2 images were skipped"), err
    cases = [
        (["--in", str(tmp_path / "missing"), "--out", str(tmp_path / "o")], "no such file or folder"),
        (["--in", str(src), "--out", str(src)], "is the input"),
        (["--in", str(src), "--out", str(tmp_path / "o"), "--size", "4"], "size must be between"),
    ]
    for argv, pattern in cases:
        assert _align(*argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and pattern in err, (argv, err)
    Image.fromarray(np.zeros((9, 9, 3), np.uint8)).save(src / "a.jpg")
    assert _align("--in", str(src), "--out", str(tmp_path / "o2")) == 2
    assert "share the name 'a'" in capsys.readouterr().err and not (tmp_path / "o2").exists()


def test_aligns_real_cartoons_with_dlib(tmp_path, capsys):
    cartoons = shared_data("cartoon/photo2cartoon")
    pytest.importorskip("dlib")
    assert _align("--in", str(cartoons), "--out", str(tmp_path / "o"), "--limit", "2", "--size", "64") == 0
    assert capsys.readouterr().err == ""
    assert all(load_image(p).rgb.shape == (64, 64, 3) for p in (tmp_path / "o").iterdir() if p.name != MARKER)


def test_limit_zero_does_nothing_and_exits_0(tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(np.zeros((9, 9, 3), np.uint8)).save(src / "a.png")
    assert _align("--in", str(src), "--out", str(tmp_path / "o"), "--limit", "0") == 0
    assert capsys.readouterr().err == "" and not [p for p in (tmp_path / "o").iterdir() if p.name != MARKER]
