"""examples/onnx_head.py, the app's chain (head.onnx, then reshape.onnx), gives the stylizer's faces."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import FixedDetector, load_repo_file
from toonforge.cli.main import main
from toonforge.export.onnx_export import export_onnx
from toonforge.pipelines.stylizer import Stylizer
from toonforge.styles.style import Style

pytest.importorskip("onnxruntime")


@pytest.mark.parametrize("reshape", [[], ["--eyes", "1.8", "--eye-height", "1.3", "--mouth", "0.8"],
                                     ["--eyes", "1.5", "--clean-skin", "3"]],
                         ids=["plain", "reshaped", "clean-skin"])
def test_the_onnx_only_chain_draws_what_the_stylizer_draws(tiny_style, tmp_path, face_image, reshape):
    from conftest import synthetic_face
    from test_stroke_cleanup import portrait_with_a_cheek_stroke

    export_onnx(Style.load(tiny_style).build_net("head"), tiny_style / "head.onnx")
    folder = tmp_path / "app-style"
    assert main(["reshape", str(tiny_style), "--out", str(folder), *(reshape or ["--none"])]) == 0
    # 68 landmarks where the style cleans skin (it needs them), on smooth random colours that the
    # tiny network draws with fine dark detail for the cleanup to close; five landmarks otherwise.
    img, face = face_image
    if "--clean-skin" in reshape:
        img, face = synthetic_face(256)[0], portrait_with_a_cheek_stroke()[1]
    drawer = load_repo_file("examples/onnx_head.py").FaceDrawer(folder)
    drawn = drawer(img, face.landmarks)
    assert np.array_equal(drawer(img, face.landmarks), drawn)  # the kept sessions draw it again alike
    stylizer = Stylizer(Style.load(folder), backend="onnx", detector=FixedDetector([face]))
    expected = stylizer(img, head_only=True).heads[0]
    assert drawn.shape == expected.shape and drawn.dtype == np.uint8
    diff = np.abs(drawn.astype(int) - expected)
    # The stylizer rounds to uint8 before it warps; the app chain warps floats, then rounds.
    assert diff.max() <= (1 if not reshape else 3) and diff.mean() < 0.3
    if reshape:
        plain = Stylizer(Style.load(tiny_style), backend="onnx", detector=FixedDetector([face]))
        moved = np.abs(plain(img, head_only=True).heads[0].astype(int) - drawn)
        assert moved.max() > 8 and moved.mean() > 5 * diff.mean()  # the warp did move the face
    if "--clean-skin" in reshape:  # and the cleanup changed the skin (it fails without that step)
        eyes = tmp_path / "eyes-only"
        assert main(["reshape", str(folder), "--out", str(eyes), "--clean-skin", "0"]) == 0
        uncleaned = load_repo_file("examples/onnx_head.py").FaceDrawer(eyes)(img, face.landmarks)
        assert np.abs(uncleaned.astype(int) - drawn).max() > 8


def test_the_command_writes_every_face_and_fails_in_one_line(tiny_style, tmp_path, face_image, monkeypatch, capsys):
    import toonforge.face.detector as detector
    from toonforge.io.images import load_image, save_image

    export_onnx(Style.load(tiny_style).build_net("head"), tiny_style / "head.onnx")
    img, face = face_image
    moved = type(face)(box=face.box + [4, 0, 4, 0], landmarks=face.landmarks + [4.0, 0.0], score=face.score)
    photo = tmp_path / "two.png"
    save_image(photo, img)
    example = load_repo_file("examples/onnx_head.py")
    monkeypatch.setattr(detector, "create_detector", lambda name: FixedDetector([face, moved]))
    monkeypatch.setattr("sys.argv", ["onnx_head.py", str(photo), "--style", str(tiny_style),
                                     "--out", str(tmp_path / "face.png")])
    assert example.main() == 0
    first, second = load_image(tmp_path / "face.png").rgb, load_image(tmp_path / "face-2.png").rgb
    assert first.shape == second.shape == (64, 64, 3)
    assert np.array_equal(first, example.FaceDrawer(tiny_style)(img, face.landmarks))
    assert not np.array_equal(first, second)  # the second face was aligned on its own landmarks
    monkeypatch.setattr(detector, "create_detector", lambda name: FixedDetector([]))
    assert example.main() == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: no face found") and "\n" not in err
