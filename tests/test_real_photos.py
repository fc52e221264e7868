"""End to end on real portraits from ../shared/data with the shipped `classic` style."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from conftest import shared_data
from toonforge.io.images import load_image
from toonforge.pipelines import Stylizer
from toonforge.styles import available_styles

pytestmark = pytest.mark.data


@pytest.fixture(scope="module")
def classic():
    if "classic" not in available_styles():
        pytest.skip("the classic style is not built into this checkout")
    return Stylizer("classic")


def test_classic_stylizes_a_real_portrait(classic):
    photo = load_image(shared_data("faces/scut") / "AF1554.jpg").rgb
    result = classic(photo)
    assert result.image.shape == photo.shape
    assert len(result.faces) == 1 and result.notices == []
    out, src = result.image.astype(np.float32), photo.astype(np.float32)
    assert np.abs(out - src).mean() > 8  # visibly changed
    # The style flattens photographic texture (skin, hair strands): less Laplacian energy.
    assert _texture(result.image) < 0.8 * _texture(photo)


def _texture(rgb: np.ndarray) -> float:
    """Mean |3x3 Laplacian| of the grey image, 0-255 scale."""
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return float(np.abs(cv2.Laplacian(grey, cv2.CV_32F)).mean())


def test_classic_torch_and_onnx_agree_on_a_real_photo(classic):
    photo = load_image(shared_data("faces/selfie2anime") / "female_10016.jpg").rgb
    a = classic(photo).image.astype(int)
    b = Stylizer("classic", backend="onnx")(photo).image.astype(int)
    assert np.abs(a - b).mean() < 0.5 and np.abs(a - b).max() <= 3
