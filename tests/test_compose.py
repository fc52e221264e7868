"""The one-pass composition: frame and heads blended as coefficient maps, then applied to the photo."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from test_fullres import textured_photo, tone_curve
from toonforge.face.paste import feather_mask, paste_back
from toonforge.pipelines import compose as comp
from toonforge.pipelines.compose import compose, frame_layer, head_layer
from toonforge.pipelines.upsample import guided_upsample


def rotation(scale: float, angle: float, tx: float, ty: float) -> np.ndarray:
    """(2, 3) crop -> photo affine: scale and rotate, then translate."""
    c, s = scale * np.cos(angle), scale * np.sin(angle)
    return np.array([[c, -s, tx], [s, c, ty]])


@pytest.fixture
def scene():
    photo = textured_photo(240, 320, seed=3)
    small = cv2.resize(photo, (160, 120), interpolation=cv2.INTER_AREA)
    return photo, small, tone_curve(small)


def crop_of(photo: np.ndarray, inverse: np.ndarray, side: int) -> np.ndarray:
    """The photo under a crop (what the head network would have seen)."""
    return cv2.warpAffine(photo, inverse, (side, side), flags=cv2.INTER_AREA | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE)


def test_a_plain_head_is_pasted_as_paste_back_pastes_it(scene):
    photo, small, low = scene
    inv = rotation(1.2, 0.3, 150, 20)  # a 64 px crop over ~77 px of the photo
    head = np.clip(crop_of(photo, inv, 64).astype(int) * [1.1, 0.8, 0.6], 0, 255).astype(np.uint8)
    mask = feather_mask(64)
    def base():  # compose uses its base layer up
        return frame_layer(low, small, (320, 240))

    one_pass = compose(photo, base(), [head_layer(head, None, inv, mask)])
    pasted = paste_back(compose(photo, base()), head, inv, mask)
    assert np.abs(one_pass.astype(int) - pasted).max() <= 2  # float blend vs uint8 warps
    assert np.abs(one_pass.astype(int) - compose(photo, base())).max() > 30  # the head is there


def test_a_guided_head_matches_guiding_it_in_its_own_crop(scene):
    """Blending coefficient maps = blending the two guided outputs (the identity the pass rests on)."""
    photo, small, low = scene
    inv = rotation(2.5, -0.2, 60, 40)  # a 64 px crop over 160 px: guided
    crop = crop_of(photo, inv, 64)
    head = tone_curve(crop)[:, :, ::-1].copy()  # a different 'style' on the head
    mask = feather_mask(64)
    def base():  # compose uses its base layer up
        return frame_layer(low, small, (320, 240))

    one_pass = compose(photo, base(), [head_layer(head, crop, inv, mask)]).astype(int)
    # Reference: the head guided up in its own 160 px crop of the photo, then pasted.
    big = crop_of(photo, inv @ np.diag([1 / 2.5, 1 / 2.5, 1.0]), 160)
    to_big = np.hstack([inv[:, :2] / 2.5, inv[:, 2:]])
    reference = paste_back(guided_upsample(low, small, photo), guided_upsample(head, crop, big), to_big,
                           feather_mask(160)).astype(int)
    inside = cv2.warpAffine((mask > 0.99).astype(np.float32), inv, (320, 240)) > 0.99
    assert inside.sum() > 10000
    assert np.abs(one_pass - reference)[~inside].mean() < 0.6  # the frame and the feathered edge agree
    # Inside the head, the style run on the photo at full resolution is the truth both aim at;
    # one pass reads the photo once where the reference resampled it twice (into the big crop
    # and back), losing its finest grain.
    truth = tone_curve(photo)[:, :, ::-1].astype(int)
    err = lambda im: np.abs(im - truth)[inside].mean()  # noqa: E731
    assert err(one_pass) < 0.5 * err(reference)


def test_heads_blended_on_the_base_grid_match_full_resolution(scene, monkeypatch):
    photo, small, low = scene
    inv = rotation(2.5, 0.1, 90, 30)  # coarser than the base grid (2 photo px per base px)
    crop = crop_of(photo, inv, 64)
    layer = head_layer(tone_curve(crop)[:, :, ::-1].copy(), crop, inv, feather_mask(64))
    def base():  # compose uses its base layer up
        return frame_layer(low, small, (320, 240))

    on_grid = compose(photo, base(), [layer]).astype(int)
    monkeypatch.setattr(comp, "_onto_base", lambda b, heads: (b, heads))
    full = compose(photo, base(), [layer]).astype(int)
    diff = np.abs(on_grid - full)
    assert 0 < diff.mean() < 0.6 and diff.max() <= 16


def test_bands_change_nothing_with_heads(scene, monkeypatch):
    photo, small, low = scene
    inv_a, inv_b = rotation(2.5, 0.1, 90, 30), rotation(0.6, -0.4, 20, 150)  # one on the grid, one not
    crop = crop_of(photo, inv_a, 64)
    grid = np.arange(64, dtype=np.float32)
    maps = (np.broadcast_to(grid[None, :] + 1.5, (64, 64)).copy(), np.broadcast_to(grid[:, None], (64, 64)).copy())
    layers = [head_layer(tone_curve(crop), crop, inv_a, feather_mask(64), maps),
              head_layer(crop, None, inv_b, feather_mask(64))]
    def base():  # compose uses its base layer up
        return frame_layer(low, small, (320, 240))

    whole = compose(photo, base(), layers)
    monkeypatch.setattr(comp, "BAND_ROWS", 7)
    assert np.array_equal(compose(photo, base(), layers), whole)


def test_a_reshaped_head_reads_the_photo_through_its_warp(scene):
    """A reshape that moves everything 3 photo pixels sideways reads the photo 3 pixels over:
    the same output as the unwarped head on the photo shifted by 3 pixels, where the head covers it."""
    photo, small, low = scene
    inv = rotation(2.0, 0.0, 100, 40)  # axis-aligned: 1.5 crop px = 3 photo px in x
    crop = crop_of(photo, inv, 64)
    head = tone_curve(crop)
    mask = np.ones((64, 64), np.float32)
    grid = np.arange(64, dtype=np.float32)
    maps = (np.broadcast_to(grid[None, :] + 1.5, (64, 64)).copy(), np.broadcast_to(grid[:, None], (64, 64)).copy())
    def base():  # compose uses its base layer up
        return frame_layer(low, None, (320, 240))

    warped = compose(photo, base(), [head_layer(head, crop, inv, mask, maps)]).astype(int)
    moved = np.concatenate([photo[:, 3:], photo[:, -3:]], axis=1)  # moved(x) = photo(x + 3)
    plain = compose(moved, base(), [head_layer(head, crop, inv, mask)]).astype(int)
    inside = (slice(50, 150), slice(110, 210))
    assert np.abs(warped[inside] - plain[inside]).max() <= 1
    assert np.abs(warped[inside] - compose(photo, base(), [head_layer(head, crop, inv, mask)])[inside]).mean() > 2
    identity = (np.broadcast_to(grid[None, :], (64, 64)).copy(), np.broadcast_to(grid[:, None], (64, 64)).copy())
    assert np.array_equal(compose(photo, base(), [head_layer(head, crop, inv, mask, identity)]),
                          compose(photo, base(), [head_layer(head, crop, inv, mask)]))
