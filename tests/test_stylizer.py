"""The Stylizer: full-image and head-only modes, strength, backends, alpha, no-face notices."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import FixedDetector
from toonforge.errors import InputError
from toonforge.io.images import LoadedImage
from toonforge.pipelines import Stylizer


def test_full_image_keeps_size_and_changes_pixels(tiny_style, face_image):
    img, face = face_image
    s = Stylizer(tiny_style, detector=FixedDetector([face]))
    r = s(img)
    assert r.image.shape == img.shape and r.image.dtype == np.uint8
    assert np.abs(r.image.astype(int) - img).mean() > 5
    assert len(r.heads) == 1 and r.heads[0].shape == (64, 64, 3)
    assert r.notices == []


def test_head_is_pasted_back_inside_the_face(tiny_style, face_image):
    img, face = face_image
    with_face = Stylizer(tiny_style, detector=FixedDetector([face]))(img).image
    without = Stylizer(tiny_style, detector=FixedDetector([]))(img).image
    diff = np.abs(with_face.astype(int) - without).sum(-1)
    x0, y0, x1, y1 = face.box.astype(int)
    inside = diff[y0:y1, x0:x1].mean()
    corner = diff[:20, :20].mean()
    assert inside > 5 and corner < 1  # changed where the head went, untouched far away


def test_strength_zero_is_identity_and_half_is_between(tiny_style, face_image):
    img, face = face_image
    s = Stylizer(tiny_style, detector=FixedDetector([face]))
    assert np.array_equal(s(img, strength=0.0).image, img)
    full = s(img).image.astype(int)
    half = s(img, strength=0.5).image.astype(int)
    assert np.abs(half - (full + img) / 2).max() <= 2
    with pytest.raises(InputError, match="strength"):
        s(img, strength=1.5)


def test_head_only_and_size(tiny_style, face_image):
    img, face = face_image
    s = Stylizer(tiny_style, detector=FixedDetector([face, face]))
    r = s(img, head_only=True, size=96)
    assert r.image is None and [h.shape for h in r.heads] == [(96, 96, 3)] * 2
    out = s(img, size=100).image
    assert out.shape == (100, 100, 3)


def test_no_face_notice_still_stylizes(tiny_style, face_image):
    img, _ = face_image
    r = Stylizer(tiny_style, detector=FixedDetector([]))(img)
    assert r.image.shape == img.shape and r.heads == []
    assert "no face" in r.notices[0]


def test_odd_sizes_and_large_inputs_are_handled(tiny_style):
    rng = np.random.default_rng(1)
    s = Stylizer(tiny_style, detector=None)
    for shape in [(37, 53, 3), (5, 7, 3), (300, 700, 3)]:
        img = rng.integers(0, 255, shape, dtype=np.uint8)
        assert s(img).image.shape == shape


def test_alpha_carried_through(tiny_style, face_image):
    img, _ = face_image
    alpha = np.full(img.shape[:2], 128, np.uint8)
    r = Stylizer(tiny_style, detector=None)(LoadedImage(img, alpha, None))
    assert np.array_equal(r.alpha, alpha)


def test_onnx_backend_matches_torch(tiny_style, face_image, tmp_path, monkeypatch):
    monkeypatch.setenv("TOONFORGE_CACHE", str(tmp_path / "cache"))
    img, face = face_image
    a = Stylizer(tiny_style, backend="torch", detector=FixedDetector([face]))(img).image
    b = Stylizer(tiny_style, backend="onnx", detector=FixedDetector([face]))(img).image
    assert np.abs(a.astype(int) - b).max() <= 1
    assert list((tmp_path / "cache" / "onnx").glob("*.onnx"))


def test_deterministic(tiny_style, face_image):
    img, face = face_image
    for backend in ("torch", "onnx"):
        s = Stylizer(tiny_style, backend=backend, detector=FixedDetector([face]))
        assert np.array_equal(s(img).image, s(img).image)


def test_filter_style_needs_no_weights(face_image):
    img, face = face_image
    r = Stylizer("filter", detector=FixedDetector([face]))(img)
    assert r.image.shape == img.shape and len(r.heads) == 1


def test_bad_arguments(tiny_style):
    with pytest.raises(InputError, match="backend"):
        Stylizer(tiny_style, backend="tensorrt")
    with pytest.raises(InputError, match="cuda"):
        import torch

        if torch.cuda.is_available():
            pytest.skip("a GPU is present")
        Stylizer(tiny_style, device="cuda")
    s = Stylizer(tiny_style, detector=None)
    with pytest.raises(InputError, match="uint8"):
        s(np.zeros((10, 10), np.float32))


def test_stage2_generator_file_runs_as_a_teacher_style(tmp_path, face_image):
    """A U-GAT-IT generator file (NamedTuple outputs) wrapped as a style runs in the Stylizer."""
    import torch

    from toonforge.models.factory import create_model
    from toonforge.models.generator_file import save_generator_file
    from toonforge.training.export_style import write_generator_style

    torch.manual_seed(0)
    net = create_model("ugatit_generator", light=True, base_channels=8, n_blocks=1, img_size=64).eval()
    gen = save_generator_file(tmp_path / "generator.safetensors", net, {"task": "ugatit", "size": 64, "step": 3})
    style = write_generator_style(gen, tmp_path / "teacher", name="teacher")
    img, face = face_image
    r = Stylizer(style, detector=FixedDetector([face]))(img)
    assert r.image.shape == img.shape and len(r.heads) == 1 and r.heads[0].shape == (64, 64, 3)
    with pytest.raises(InputError, match="already exists"):
        write_generator_style(gen, tmp_path / "teacher", name="teacher")


@pytest.mark.parametrize("value_range", [(-1.0, 1.0), (0.0, 1.0), (0.0, 255.0)])
def test_the_style_value_range_is_what_the_network_sees_and_returns(tiny_style, value_range):
    """config.json's value_range maps 0..255 to the network's input range and back: a network
    that returns its input gives the photo back, and it saw values spanning that range."""
    import json

    cfg_path = tiny_style / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["value_range"] = list(value_range)
    cfg_path.write_text(json.dumps(cfg))
    seen = []

    class Identity:
        def __init__(self, inner):
            self.stride = inner.stride

        def __call__(self, x):
            seen.append((float(x.min()), float(x.max())))
            return x

    st = Stylizer(tiny_style, detector=None, backend="onnx")
    st.wrap_runners(lambda role, runner: Identity(runner))
    img = np.zeros((64, 64, 3), np.uint8)
    img[:, 32:] = 255
    img[10:20, 5:9] = 77
    out = st(LoadedImage(img, None), strength=1.0).image
    assert seen and seen[0] == pytest.approx(value_range)
    assert np.abs(out.astype(int) - img).max() <= 1
