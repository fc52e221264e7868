"""The non-learned cartoon filter: determinism, flat regions, dark outlines, odd sizes."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from conftest import shared_data
from toonforge.errors import InputError
from toonforge.filters.cartoon import FILTER_DEFAULTS, cartoonize


def _photo_like(size: int = 128, seed: int = 0) -> np.ndarray:
    """Smooth random colour blobs plus pixel noise: many distinct colours."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)
    img = cv2.resize(base, (size, size), interpolation=cv2.INTER_CUBIC).astype(np.int16)
    img += rng.integers(-6, 7, img.shape, dtype=np.int16)
    return np.clip(img, 0, 255).astype(np.uint8)


def _scene(size: int = 512, seed: int = 0) -> np.ndarray:
    """A gradient backdrop with a few flat discs and mild noise (a cartoonable picture)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    img = np.stack([180 + 40 * x, 170 + 30 * y, 150 + 20 * x * y], -1)
    for _ in range(6):
        cx, cy = (int(v) for v in rng.integers(size // 6, size * 5 // 6, 2))
        radius = int(rng.integers(size // 12, size // 5))
        cv2.circle(img, (cx, cy), radius, rng.integers(20, 235, 3).tolist(), -1, cv2.LINE_AA)
    return np.clip(img + rng.normal(0, 4, img.shape), 0, 255).astype(np.uint8)


def _n_colours(img: np.ndarray) -> int:
    return len(np.unique(img.reshape(-1, 3), axis=0))


def test_deterministic_shape_dtype_fewer_colours():
    img = _photo_like()
    a, b = cartoonize(img), cartoonize(img.copy())
    assert np.array_equal(a, b)
    assert a.shape == img.shape and a.dtype == np.uint8
    assert _n_colours(cartoonize(img, edge_strength=0.0)) <= FILTER_DEFAULTS["colors"]
    assert _n_colours(a) < _n_colours(img)


def test_flat_square_interior_flat_with_dark_border():
    img = np.full((256, 256, 3), (200, 190, 170), np.uint8)
    img[64:192, 64:192] = (70, 110, 160)
    out = cartoonize(img).astype(int)
    interior = out[80:176, 80:176].reshape(-1, 3)
    assert len(np.unique(interior, axis=0)) == 1
    outside = out[8:40, 8:40].reshape(-1, 3)
    assert len(np.unique(outside, axis=0)) == 1
    # Around the square's border (either side) some pixels are clearly darker than both flats.
    grey = out.mean(axis=2)
    band = np.zeros((256, 256), bool)
    band[58:198, 58:198] = True
    band[70:186, 70:186] = False
    darkest_flat = min(interior.mean(axis=1)[0], outside.mean(axis=1)[0])
    dark = band & (grey < darkest_flat - 20)
    assert dark.sum() > 200  # a line running around the square
    assert not (~band & (grey < darkest_flat - 20)).any()


@pytest.mark.parametrize("shape", [(1, 1), (2, 3), (5, 7), (8, 8), (9, 200), (33, 17)])
def test_tiny_and_thin_images(shape):
    img = np.random.default_rng(1).integers(0, 255, (*shape, 3), dtype=np.uint8)
    out = cartoonize(img)
    assert out.shape == img.shape and out.dtype == np.uint8


def test_greyscale_like_input_stays_grey():
    grey = cv2.cvtColor(_photo_like(96, seed=3), cv2.COLOR_RGB2GRAY)
    img = np.repeat(grey[..., None], 3, axis=2)
    out = cartoonize(img).astype(int)
    assert np.abs(out[..., 0] - out[..., 1]).max() <= 3
    assert np.abs(out[..., 1] - out[..., 2]).max() <= 3
    flat = np.full((40, 40, 3), 128, np.uint8)
    assert np.array_equal(cartoonize(flat), flat)


def test_bad_inputs():
    with pytest.raises(InputError):
        cartoonize(np.zeros((10, 10), np.uint8))
    with pytest.raises(InputError):
        cartoonize(np.zeros((10, 10, 3), np.float32))
    with pytest.raises(InputError):
        cartoonize(np.zeros((0, 10, 3), np.uint8))
    with pytest.raises(TypeError):
        cartoonize(np.zeros((10, 10, 3), np.uint8), colours=3)  # type: ignore[call-arg]


def test_resolution_aware():
    """A 128 and a 512 version of one image give nearly the same picture."""
    img = _scene(512, seed=1)
    small = cartoonize(cv2.resize(img, (128, 128), interpolation=cv2.INTER_AREA))
    large = cartoonize(img)
    large_down = cv2.resize(large, (128, 128), interpolation=cv2.INTER_AREA)
    assert np.abs(small.astype(int) - large_down.astype(int)).mean() < 6


def test_real_photo_flattened():
    folder = shared_data("faces/scut")
    from PIL import Image

    rgb = np.asarray(Image.open(min(folder.glob("*.jpg"))).convert("RGB"))
    out = cartoonize(rgb)
    assert out.shape == rgb.shape
    assert _n_colours(out) < _n_colours(rgb) / 4
