"""Full-resolution output: guided upsampling keeps a large photo's fine detail at 1:1."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from conftest import FixedDetector
from toonforge.face.types import Face
from toonforge.metrics.sharpness import laplacian_sharpness
from toonforge.pipelines import Stylizer, compose
from toonforge.pipelines.upsample import guided_upsample


def textured_photo(h: int, w: int, seed: int = 0) -> np.ndarray:
    """(h, w, 3) uint8: smooth colour blobs, sharp stripes and 1-pixel grain (fine texture)."""
    rng = np.random.default_rng(seed)
    blobs = cv2.resize(rng.integers(40, 215, (6, 8, 3), dtype=np.uint8), (w, h), interpolation=cv2.INTER_CUBIC)
    yy, xx = np.mgrid[:h, :w]
    stripes = (((xx + yy) // 3) % 2 * 40 - 20)[:, :, None] * ((xx > w // 2)[:, :, None])
    grain = rng.normal(0, 12, (h, w, 1))
    return np.clip(blobs.astype(np.float32) + stripes + grain, 0, 255).astype(np.uint8)


def tone_curve(rgb: np.ndarray) -> np.ndarray:
    """A stand-in 'style' that follows the photo: a gamma curve with a warm tint."""
    x = (rgb.astype(np.float32) / 255.0) ** 0.8
    return np.clip(x * np.array([255, 235, 210], np.float32), 0, 255).astype(np.uint8)


def test_guided_keeps_high_frequencies_the_upscale_loses():
    photo = textured_photo(600, 800)
    small = cv2.resize(photo, (200, 150), interpolation=cv2.INTER_AREA)
    low = tone_curve(small)
    guided = guided_upsample(low, small, photo)
    plain = cv2.resize(low, (800, 600), interpolation=cv2.INTER_LINEAR)
    truth = tone_curve(photo)  # the style applied at full resolution
    assert guided.shape == photo.shape and guided.dtype == np.uint8
    assert laplacian_sharpness(guided) > 2.0 * laplacian_sharpness(plain)
    # ... and the detail is the right one: closer to the style run at full resolution.
    err = lambda im: np.abs(im.astype(int) - truth).mean()  # noqa: E731
    assert err(guided) < 0.6 * err(plain)
    # Flat stylization (the style erased everything) stays flat: no photo texture is invented.
    flat = guided_upsample(np.full_like(small, 128), small, photo)
    assert np.abs(flat.astype(int) - 128).max() <= 1


def test_bands_change_nothing(monkeypatch):
    photo = textured_photo(203, 157, seed=1)
    small = cv2.resize(photo, (61, 79), interpolation=cv2.INTER_AREA)
    low = tone_curve(small)
    whole = guided_upsample(low, small, photo)
    monkeypatch.setattr(compose, "BAND_ROWS", 7)
    assert np.array_equal(guided_upsample(low, small, photo), whole)
    with pytest.raises(ValueError, match="same"):
        guided_upsample(low[:10], small, photo)


def test_stylizer_output_and_pasted_head_are_sharp_at_one_to_one(tiny_style, small_model_cpu):
    """The tiny style works at 128 px (frame) and 64 px (head): a 480 px photo is upscaled 3.75x."""
    photo = textured_photo(480, 480, seed=2)
    s = 480 / 200
    lm = np.array([[80, 90], [120, 90], [100, 110], [85, 130], [115, 130]], np.float32) * s
    face = Face(box=np.array([60, 60, 140, 150], np.float32) * s, landmarks=lm, score=1.0)
    st = Stylizer(tiny_style, backend="torch", detector=FixedDetector([face]))
    guided = st(photo).image
    st.upsample = "bilinear"
    plain = st(photo).image
    assert guided.shape == plain.shape == photo.shape
    x0, y0, x1, y1 = (face.box + [15, 15, -15, -15]).astype(int)  # inside the pasted head
    head_g, head_p = guided[y0:y1, x0:x1], plain[y0:y1, x0:x1]
    assert laplacian_sharpness(head_g) > 1.5 * laplacian_sharpness(head_p)
    frame_g, frame_p = guided[:100, :100], plain[:100, :100]
    assert laplacian_sharpness(frame_g) > 1.5 * laplacian_sharpness(frame_p)
    st.upsample = "guided"
    assert np.array_equal(st(photo, strength=0.0).image, photo)
