"""Head-only crops: no mirrored structure past the photo's edge, alpha kept, one no-face message,
and the one-line summary of ``stylize``."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from conftest import FixedDetector, synthetic_face
from toonforge.cli.main import main
from toonforge.face.align import align_face
from toonforge.face.detector import register_detector
from toonforge.io.images import LoadedImage
from toonforge.pipelines import Stylizer

CUT = 120  # rows cut off the top: the face's crop then runs ~90 px (28%) past the photo's edge


def _scene(seed: int = 0):
    """A 400 px textured photo with dark bars (brows, eyes) near the top of the face, and its face."""
    img, face = synthetic_face(400, seed=seed)
    img = img.copy()
    rng = np.random.default_rng(seed)
    img = np.clip(img.astype(int) + rng.integers(-25, 26, img.shape), 0, 255).astype(np.uint8)
    for x0 in (140, 215):  # brows and eyes: strong structure a mirror would copy upward
        img[CUT + 30:CUT + 40, x0:x0 + 45] = 20
        img[CUT + 55:CUT + 65, x0 + 10:x0 + 35] = 30
    return img, face


def _structure(crop: np.ndarray, region: np.ndarray) -> float:
    """Mean |Laplacian| of the lightly blurred grey crop over ``region``: edges, not grain."""
    grey = cv2.GaussianBlur(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY).astype(np.float32), (0, 0), 2.0)
    return float(np.abs(cv2.Laplacian(grey, cv2.CV_32F))[region].mean())


def test_padding_past_the_edge_holds_no_mirror_image():
    img, face = _scene()
    full = align_face(img, face.landmarks, 256)  # needs no padding: the real surroundings
    cut_lm = face.landmarks - [0, CUT]
    cut = img[CUT:]
    smooth = align_face(cut, cut_lm, 256).crop  # the default
    mirror = align_face(cut, cut_lm, 256, pad_mode="reflect").crop
    ffhq = align_face(cut, cut_lm, 256, pad_mode="ffhq").crop
    # Crop pixels from inside the cut photo, and the padding (away from the seam).
    m = align_face(cut, cut_lm, 256).matrix
    inside = cv2.warpAffine(np.ones(cut.shape[:2], np.float32), m, (256, 256), flags=cv2.INTER_LINEAR) > 0.5
    outside = cv2.distanceTransform((~inside).astype(np.uint8), cv2.DIST_L2, 5)
    far = outside > 12
    assert far.mean() > 0.15  # the crop really runs past the photo
    deep_inside = cv2.distanceTransform(inside.astype(np.uint8), cv2.DIST_L2, 5) > 3
    assert np.abs(smooth.astype(int) - full.crop)[deep_inside].max() <= 2  # the photo itself is untouched
    # The mirror and FFHQ's blurred mirror copy the bars upward; the default fill holds no structure.
    assert _structure(mirror, far) > 3 * _structure(smooth, far)
    assert _structure(ffhq, far) > 1.5 * _structure(smooth, far)

    def mirror_correlation(crop):
        a = crop.astype(np.float32)[far].ravel() - crop[far].mean()
        b = mirror.astype(np.float32)[far].ravel() - mirror[far].mean()
        return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum() + 1e-9))

    assert mirror_correlation(ffhq) > 0.5 and mirror_correlation(smooth) < 0.3
    # Near the seam the fill continues the edge's colour (within 30 levels of the row beside it).
    row = int(np.argmax(inside.any(axis=1)))
    cols = inside[row] & inside[row + 2]
    assert np.abs(smooth[row - 3, cols].astype(int).mean(0) - smooth[row + 2, cols].mean(0)).max() < 30


def _register(name: str, detector) -> None:
    try:
        register_detector(name)(lambda **_: detector)
    except ValueError:  # registered by an earlier test of this session: it reports the same faces
        pass


@pytest.fixture
def one_face_detector():
    """A registered detector name that finds the synthetic face of a 96 px image."""
    _, face = synthetic_face(96)
    _register("test-i32b-one-face", FixedDetector([face]))
    return "test-i32b-one-face"


def test_head_only_keeps_alpha(tiny_style, tmp_path, capsys, small_model_cpu, one_face_detector):
    img, face = synthetic_face(96)
    alpha = np.full((96, 96), 255, np.uint8)
    alpha[:, :30] = 0  # the left third transparent
    st = Stylizer(tiny_style, backend="torch", detector=FixedDetector([face]))
    r = st(LoadedImage(img, alpha), head_only=True)
    (head_alpha,) = r.head_alphas
    assert head_alpha.shape == (64, 64) and head_alpha.dtype == np.uint8
    aligned = align_face(img, face.landmarks, 64)
    expect = cv2.warpAffine(alpha, aligned.matrix, (64, 64), flags=cv2.INTER_LINEAR, borderValue=0)
    assert np.abs(head_alpha.astype(int) - expect).max() <= 1
    assert head_alpha[:, :5].max() == 0 and head_alpha[:, 40:].min() > 200
    assert st(LoadedImage(img, alpha), head_only=True, size=32).head_alphas[0].shape == (32, 32)
    assert st(img, head_only=True).head_alphas == []
    # Through the command: the face PNG comes out RGBA with that alpha.
    src = tmp_path / "in.png"
    Image.fromarray(np.dstack([img, alpha])).save(src)
    out = tmp_path / "out"
    assert main(["stylize", str(src), "-o", str(out), "--style", str(tiny_style), "--backend", "torch",
                 "--detector", one_face_detector, "--head-only"]) == 0
    written = Image.open(out / "in_face0.png")
    assert written.mode == "RGBA" and np.abs(np.asarray(written)[:, :, 3].astype(int) - expect).max() <= 1
    assert capsys.readouterr().out.strip() == f"wrote 1 image (1 face) to {out}"


def test_no_face_head_only_says_one_thing(tiny_style, tmp_path, capsys, small_model_cpu):
    img, _ = synthetic_face(96)
    src = tmp_path / "in.png"
    Image.fromarray(img).save(src)
    _register("test-i32b-no-face", FixedDetector([]))
    code = main(["stylize", str(src), "-o", str(tmp_path / "out"), "--style", str(tiny_style),
                 "--backend", "torch", "--detector", "test-i32b-no-face", "--head-only"])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: no face found"), err
    assert "full image" not in err
    assert Stylizer(tiny_style, backend="torch", detector=FixedDetector([]))(img, head_only=True).notices == \
        ["no face found"]


def test_stylize_prints_a_summary_unless_quiet(tiny_style, tmp_path, capsys, small_model_cpu):
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(2):
        Image.fromarray(synthetic_face(64, seed=i)[0]).save(photos / f"p{i}.png")
    base = ["stylize", str(photos), "--style", str(tiny_style), "--backend", "torch", "--detector", "none"]
    assert main(base + ["-o", str(tmp_path / "a")]) == 0
    assert capsys.readouterr().out.strip() == f"wrote 2 images (0 faces) to {tmp_path / 'a'}"
    assert main(base + ["-o", str(tmp_path / "b"), "--quiet"]) == 0
    assert capsys.readouterr().out == ""
