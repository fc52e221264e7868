"""reshape.onnx: the face reshape as an ONNX graph matches the stylizer's NumPy warp."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from test_reshape import crop_landmarks
from toonforge.cli.main import main
from toonforge.errors import InputError
from toonforge.export.reshape_onnx import RESHAPE_ONNX, export_reshape_onnx, run_reshape_onnx
from toonforge.face.reshape import ReshapeSpec, reshape_maps, warp_crop

pytest.importorskip("onnxruntime")


def smooth_image(size: int, channels: int = 3) -> np.ndarray:
    """A seeded image with detail at every scale the warp moves (0..255 float32)."""
    rng = np.random.default_rng(7)
    noise = rng.uniform(0, 255, (size, size, channels)).astype(np.float32)
    return cv2.GaussianBlur(noise, (0, 0), 2.0).reshape(size, size, channels) * 3 - 255


@pytest.fixture(scope="module")
def extreme_onnx(tmp_path_factory):
    return export_reshape_onnx(ReshapeSpec.extreme(), tmp_path_factory.mktemp("onnx") / RESHAPE_ONNX)


@pytest.mark.parametrize("size,tilt,channels", [(256, 0.0, 3), (256, 12.0, 3), (128, -6.0, 3), (192, 0.0, 1)])
def test_onnx_reshape_matches_the_numpy_warp(extreme_onnx, size, tilt, channels):
    lm = crop_landmarks(tilt) * (size / 256)
    img = smooth_image(size, channels)
    ref = warp_crop(img, reshape_maps(lm, size, ReshapeSpec.extreme())).reshape(size, size, channels)
    out = run_reshape_onnx(extreme_onnx, img, lm)
    assert out.shape == img.shape
    assert np.abs(out - ref).max() < 0.05  # float32 rounding on a 0..255 scale
    assert np.abs(out - img).max() > 50  # and the face really moved


def test_onnx_reshape_follows_the_landmarks_given_at_run_time(extreme_onnx):
    img = smooth_image(256)
    a = run_reshape_onnx(extreme_onnx, img, crop_landmarks())
    b = run_reshape_onnx(extreme_onnx, img, crop_landmarks() + [6.0, -4.0])
    ref_b = warp_crop(img, reshape_maps(crop_landmarks() + [6.0, -4.0], 256, ReshapeSpec.extreme()))
    assert np.abs(a - b).max() > 20 and np.abs(b - ref_b).max() < 0.05


def test_an_identity_reshape_has_no_graph(tmp_path):
    with pytest.raises(InputError, match="moves nothing"):
        export_reshape_onnx(ReshapeSpec(eye_radius=0.3), tmp_path / RESHAPE_ONNX)
    assert not (tmp_path / RESHAPE_ONNX).exists()


def test_style_copies_carry_a_reshape_graph_that_matches_their_config(tiny_style, tmp_path):
    big, tall, plain = tmp_path / "big", tmp_path / "tall", tmp_path / "plain"
    assert main(["reshape", str(tiny_style), "--out", str(big), "--eyes", "1.8"]) == 0
    assert main(["reshape", str(big), "--out", str(tall), "--eyes", "1.5", "--eye-height", "1.3"]) == 0
    assert main(["reshape", str(tall), "--out", str(plain), "--none"]) == 0
    assert not (tiny_style / RESHAPE_ONNX).exists() and not (plain / RESHAPE_ONNX).exists()
    img, lm = smooth_image(256), crop_landmarks()
    for folder, spec in ((big, ReshapeSpec(eyes=1.8)), (tall, ReshapeSpec(eyes=1.5, eye_height=1.3))):
        ref = warp_crop(img, reshape_maps(lm, 256, spec))
        assert np.abs(run_reshape_onnx(folder / RESHAPE_ONNX, img, lm) - ref).max() < 0.05


@pytest.mark.parametrize("name", ["anime", "cartoon", "classic", "colour-sketch", "sketch"])
def test_shipped_styles_carry_the_reshape_graph_of_their_config(name):
    from toonforge.styles.registry import load_style

    style = load_style(name)
    graph = style.path / RESHAPE_ONNX
    if style.config.reshape is None:
        assert not graph.exists()
        return
    img, lm = smooth_image(256), crop_landmarks()
    ref = warp_crop(img, reshape_maps(lm, 256, style.config.reshape))
    assert np.abs(run_reshape_onnx(graph, img, lm) - ref).max() < 0.05
