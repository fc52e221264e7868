"""Face reshaping: the spec's checks, the warp's geometry, the stylizer and the CLI."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from conftest import FixedDetector
from toonforge.cli.main import main
from toonforge.errors import InputError
from toonforge.face.align import align_face
from toonforge.face.reshape import RESHAPE_LIMITS, ReshapeSpec, reshape_maps, warp_crop
from toonforge.pipelines.stylizer import Stylizer
from toonforge.styles.style import Style

SIZE = 256
EXTREME = ReshapeSpec.extreme()


def crop_landmarks(tilt_deg: float = 0.0) -> np.ndarray:
    """Five landmarks where FFHQ alignment puts them in a 256 px crop, turned by ``tilt_deg``."""
    lm = np.array([[96, 122], [160, 122], [128, 158], [102, 186], [154, 186]], np.float64)
    a = np.deg2rad(tilt_deg)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return (lm - 128) @ rot.T + 128


def identity_grid() -> tuple[np.ndarray, np.ndarray]:
    g = np.arange(SIZE, dtype=np.float32)
    return tuple(np.meshgrid(g, g))  # type: ignore[return-value]


# ---- the spec ---------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [{"eyes": 2.1}, {"eyes": 0.9}, {"jaw": -0.1}, {"nose": 1.2},
                                 {"eye_radius": 0.9}, {"eyes": "big"}, {"eyes": float("nan")},
                                 {"ears": 1.0}, {"mouth": 0.6}, {"eye_height": 0.9}, {"chin": 0.4}, [1.3]])
def test_bad_specs_are_one_line_input_errors(bad):
    with pytest.raises(InputError) as info:
        ReshapeSpec.from_dict(bad)
    assert "\n" not in str(info.value)


def test_spec_round_trip_and_scaling():
    spec = ReshapeSpec.from_dict({"eyes": 1.44, "nose": 0.81, "jaw": 0.2})
    assert ReshapeSpec.from_dict(spec.to_dict()) == spec
    assert spec.scaled(0.0).is_identity and not spec.is_identity
    assert spec.scaled(1.0) == spec
    half = spec.scaled(0.5)
    assert half.eyes == pytest.approx(1.2) and half.nose == pytest.approx(0.9) and half.jaw == pytest.approx(0.1)
    tall = ReshapeSpec.from_dict({"eyes": 1.44, "eye_height": 1.21, "mouth": 0.81, "chin": 0.3})
    assert ReshapeSpec.from_dict(tall.to_dict()) == tall and not ReshapeSpec(mouth=0.9).is_identity
    half = tall.scaled(0.5)
    assert (half.eye_height, half.mouth, half.chin) == pytest.approx((1.1, 0.9, 0.15))
    assert ReshapeSpec(eye_radius=0.3).is_identity and not ReshapeSpec(eye_height=1.2).is_identity
    lo_hi = {k: (getattr(EXTREME, k) == lo, getattr(EXTREME, k) == hi) for k, (lo, hi) in RESHAPE_LIMITS.items()}
    assert lo_hi["nose"] == lo_hi["mouth"] == (True, False) and lo_hi["chin"] == lo_hi["eye_height"] == (False, True)


# ---- the warp ---------------------------------------------------------------------------------
def test_identity_spec_gives_the_identity_map():
    mx, my = reshape_maps(crop_landmarks(), SIZE, ReshapeSpec())
    gx, gy = identity_grid()
    assert np.array_equal(mx, gx) and np.array_equal(my, gy)


def test_eye_is_magnified_by_the_factor_at_its_centre():
    lm = crop_landmarks()
    mx, my = reshape_maps(lm, SIZE, ReshapeSpec(eyes=1.5))
    cx, cy = 96, 122  # the left eye's centre, on a pixel
    assert mx[cy, cx] == pytest.approx(cx, abs=1e-4) and my[cy, cx] == pytest.approx(cy, abs=1e-4)
    # Sampling steps at the centre are 1/1.5 of a pixel: the eye is drawn 1.5 times larger.
    assert (mx[cy, cx + 1] - mx[cy, cx - 1]) / 2 == pytest.approx(1 / 1.5, abs=0.01)
    assert (my[cy + 1, cx] - my[cy - 1, cx]) / 2 == pytest.approx(1 / 1.5, abs=0.01)
    # A dark disc of radius 8 on the eye grows to the radius r the lens sends back to 8:
    # r * (1 - k * (1 - (r / R)^2)^2) = 8, with k = 1 - 1/1.5 and R = 0.45 * 64 (about 10.7 px).
    radius, k = 0.45 * 64, 1 - 1 / 1.5
    r = np.linspace(8, 12, 4001)
    grown = r[np.argmin(np.abs(r * (1 - k * (1 - (r / radius) ** 2) ** 2) - 8))]
    img = np.full((SIZE, SIZE, 3), 255, np.uint8)
    cv2.circle(img, (cx, cy), 8, (0, 0, 0), -1)
    before = (img[..., 0] < 128).sum()
    after = (warp_crop(img, (mx, my))[..., 0] < 128).sum()
    assert after / before == pytest.approx((grown / 8) ** 2, rel=0.06)
    assert after / before > 1.3**2


def step_along(mx: np.ndarray, my: np.ndarray, row: int, col: int, axis: np.ndarray) -> float:
    """Length of the sampling step at (row, col) for one output pixel along ``axis``."""
    jac = np.array([[np.gradient(m, axis=1)[row, col], np.gradient(m, axis=0)[row, col]] for m in (mx, my)])
    return float(np.linalg.norm(jac @ axis))


@pytest.mark.parametrize("tilt", [0.0, 12.0])
def test_a_tall_eye_lens_magnifies_more_down_the_face_than_along_it(tilt):
    lm = crop_landmarks(tilt)
    mx, my = reshape_maps(lm, SIZE, ReshapeSpec(eyes=1.5, eye_height=1.4))
    a = np.deg2rad(tilt)
    along, down = np.array([np.cos(a), np.sin(a)]), np.array([-np.sin(a), np.cos(a)])
    cx, cy = (int(round(v)) for v in lm[1])  # the right eye's centre, nearest pixel
    assert step_along(mx, my, cy, cx, along) == pytest.approx(1 / 1.5, abs=0.02)
    assert step_along(mx, my, cy, cx, down) == pytest.approx(1 / (1.5 * 1.4), abs=0.02)
    # A dark disc on the eye grows taller than wide.
    img = np.full((SIZE, SIZE), 255, np.uint8)
    cv2.circle(img, (cx, cy), 6, 0, -1)
    ys, xs = np.nonzero(warp_crop(img, (mx, my)) < 128)
    pts = np.stack([xs - cx, ys - cy], axis=1)
    # The lens formula sends radius 6 out to about 8.3 px across and 10.1 px down.
    assert np.ptp(pts @ along) > 15 and np.ptp(pts @ down) > 1.2 * np.ptp(pts @ along)


def test_eye_height_alone_stretches_the_eyes_vertically_only():
    lm = crop_landmarks()
    mx, my = reshape_maps(lm, SIZE, ReshapeSpec(eye_height=1.3))
    cx, cy = 96, 122
    assert (mx[cy, cx + 1] - mx[cy, cx - 1]) / 2 == pytest.approx(1.0, abs=1e-3)
    assert (my[cy + 1, cx] - my[cy - 1, cx]) / 2 == pytest.approx(1 / 1.3, abs=0.01)


def test_a_mouth_below_one_shrinks_the_mouth_and_leaves_the_eyes():
    lm = crop_landmarks()
    mx, my = reshape_maps(lm, SIZE, ReshapeSpec(mouth=0.7))
    gx, gy = identity_grid()
    cx, cy = 128, 186
    assert (mx[cy, cx + 1] - mx[cy, cx - 1]) / 2 == pytest.approx(1 / 0.7, abs=0.02)
    img = np.full((SIZE, SIZE), 255, np.uint8)
    cv2.ellipse(img, (cx, cy), (14, 5), 0, 0, 360, 0, -1)
    assert (warp_crop(img, (mx, my)) < 128).sum() < 0.7 * (img < 128).sum()
    assert np.abs(np.hypot(mx - gx, my - gy)[:140]).max() < 1e-6  # eyes and brows stay


def test_chin_squeeze_narrows_the_jaw_below_the_mouth_only():
    lm = crop_landmarks()
    mx, my = reshape_maps(lm, SIZE, ReshapeSpec(chin=0.3))
    gx, gy = identity_grid()
    offset = mx - gx
    assert offset[205, 80] < -2.0 and offset[205, 176] > 2.0  # the jaw line moves in
    assert np.abs(offset[:187]).max() < 1e-6  # the mouth line and everything above stay
    assert np.abs(my - gy).max() < 1e-4  # nothing moves up or down
    jaw_only = reshape_maps(lm, SIZE, ReshapeSpec(jaw=0.3))[0] - gx
    assert abs(jaw_only[186, 104]) > 1.0  # where the jaw squeeze does move the mouth


def test_jaw_squeeze_pulls_the_cheeks_in_and_leaves_the_forehead():
    lm = crop_landmarks()
    mx, _ = reshape_maps(lm, SIZE, ReshapeSpec(jaw=0.3))
    gx, _ = identity_grid()
    offset = mx - gx
    # Below the mouth, left of the midline, pixels sample from further left (content moves in).
    assert offset[195, 80] < -2.0 and offset[195, 176] > 2.0
    assert abs(offset[195, 128]) < 1e-3  # the midline stays
    assert np.abs(offset[:100]).max() < 1e-6  # above the eyes nothing moves


LONG_FACE = np.array([[100, 121], [156, 121], [128, 160], [104, 192], [152, 192]], np.float64)


@pytest.mark.parametrize("landmarks", [crop_landmarks(), crop_landmarks(8.0), crop_landmarks(-8.0), LONG_FACE],
                         ids=["upright", "tilt+8", "tilt-8", "long"])
def test_border_band_never_moves(landmarks):
    """Paste-back feathers the crop's outer 10% (transparent in the outer 6%): keep it in place."""
    mx, my = reshape_maps(landmarks, SIZE, EXTREME)
    gx, gy = identity_grid()
    moved = np.hypot(mx - gx, my - gy)
    for frac, most in ((0.06, 1e-4), (0.1, 0.3)):
        band = np.ones((SIZE, SIZE), bool)
        inner = int(frac * SIZE)
        band[inner:-inner, inner:-inner] = False
        assert moved[band].max() < most
    assert moved.max() > 5  # while the face itself does move


@pytest.mark.parametrize("landmarks", [crop_landmarks(), crop_landmarks(15.0), LONG_FACE])
def test_the_most_extreme_warp_does_not_fold(landmarks):
    mx, my = reshape_maps(landmarks, SIZE, EXTREME)
    dxdx, dxdy = np.gradient(mx, axis=1), np.gradient(mx, axis=0)
    dydx, dydy = np.gradient(my, axis=1), np.gradient(my, axis=0)
    det = dxdx * dydy - dxdy * dydx
    assert det.min() > 0.05


# ---- the stylizer -----------------------------------------------------------------------------
def reshaped_copy(style_dir, tmp_path, spec: dict) -> Style:
    out = tmp_path / "reshaped"
    flags = [part for k, v in spec.items() for part in (f"--{k}", str(v))]
    assert main(["reshape", str(style_dir), "--out", str(out), *flags]) == 0
    return Style.load(out)


def passthrough(stylizer: Stylizer) -> Stylizer:
    """Make the network an exact identity, so what the tests see is the pipeline alone."""
    stylizer._translate = lambda role, images: [im.copy() for im in images]  # type: ignore[method-assign]
    return stylizer


def test_head_only_output_is_the_warped_crop_at_every_strength(tiny_style, tmp_path, face_image):
    img, face = face_image
    style = reshaped_copy(tiny_style, tmp_path, {"eyes": 1.5, "jaw": 0.2})
    s = passthrough(Stylizer(style, backend="torch", detector=FixedDetector([face])))
    aligned = align_face(img, face.landmarks, s.head_resolution)
    for strength in (1.0, 0.5):
        maps = reshape_maps(aligned.landmarks_in_crop, s.head_resolution, style.config.reshape.scaled(strength))
        head = s(img, head_only=True, strength=strength).heads[0]
        # Photo and drawing are warped alike before they are blended: no second pair of eyes.
        assert np.array_equal(head, warp_crop(aligned.crop, maps))
    assert not np.array_equal(head, aligned.crop)


def test_full_image_with_a_reshape(tiny_style, tmp_path, face_image):
    img, face = face_image
    style = reshaped_copy(tiny_style, tmp_path, {"eyes": 1.5})
    s = passthrough(Stylizer(style, backend="torch", detector=FixedDetector([face])))
    assert np.array_equal(s(img, strength=0.0).image, img)
    plain = passthrough(Stylizer(Style.load(tiny_style), backend="torch", detector=FixedDetector([face])))
    base, out = plain(img).image.astype(int), s(img).image.astype(int)
    diff = np.abs(out - base).max(axis=2)
    assert diff[80:100, 70:90].max() > 10  # around the left eye (80, 90)
    assert diff[:40].max() == 0 and diff[-30:].max() == 0  # far from the face nothing changes


# ---- config and CLI ---------------------------------------------------------------------------
def test_reshape_command_writes_a_copy_and_keeps_the_source(tiny_style, tmp_path, capsys):
    before = (tiny_style / "config.json").read_bytes()
    out = tmp_path / "big-eyes"
    assert main(["reshape", str(tiny_style), "--out", str(out), "--eyes", "1.3", "--jaw", "0.1", "--eye-height", "1.2",
                 "--mouth", "0.8", "--chin", "0.2"]) == 0
    assert (tiny_style / "config.json").read_bytes() == before
    loaded = Style.load(out)
    assert loaded.name == "big-eyes"
    assert loaded.config.reshape == ReshapeSpec(eyes=1.3, jaw=0.1, eye_height=1.2, mouth=0.8, chin=0.2)
    assert (out / "model.safetensors").read_bytes() == (tiny_style / "model.safetensors").read_bytes()
    capsys.readouterr()
    assert main(["reshape", str(tiny_style), "--out", str(out), "--eyes", "1.2"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["reshape", str(out), "--out", str(out), "--overwrite"]) == 2
    assert main(["reshape", str(tiny_style), "--out", str(tmp_path / "x"), "--eyes", "3"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 2 and "eyes must be a number in [1.0, 2.0]" in err
    assert not (tmp_path / "x").exists()
    assert main(["reshape", str(out), "--out", str(tmp_path / "plain"), "--none"]) == 0
    assert Style.load(tmp_path / "plain").config.reshape is None


def test_parts_not_given_keep_the_source_reshape(tiny_style, tmp_path, capsys):
    shaped, clean, more = tmp_path / "shaped", tmp_path / "clean", tmp_path / "more"
    assert main(["reshape", str(tiny_style), "--out", str(shaped), "--eyes", "1.5", "--eye-height", "1.3"]) == 0
    # Adding skin cleanup alone must not drop the eyes (it used to write "no reshape").
    assert main(["reshape", str(shaped), "--out", str(clean), "--clean-skin", "5"]) == 0
    assert Style.load(clean).config.reshape == ReshapeSpec(eyes=1.5, eye_height=1.3)
    assert Style.load(clean).config.clean_skin == 5
    assert main(["reshape", str(clean), "--out", str(more), "--mouth", "0.8", "--eyes", "1.2"]) == 0
    assert Style.load(more).config.reshape == ReshapeSpec(eyes=1.2, eye_height=1.3, mouth=0.8)
    assert Style.load(more).config.clean_skin == 5
    capsys.readouterr()
    assert main(["reshape", str(shaped), "--out", str(tmp_path / "both"), "--none", "--eye-height", "1.2"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--none removes the reshape; it cannot take --eye-height too" in err
    assert not (tmp_path / "both").exists()


def test_a_bad_reshape_in_config_json_is_a_one_line_error(tiny_style):
    cfg = json.loads((tiny_style / "config.json").read_text())
    cfg["reshape"] = {"eyes": 1.3, "ears": 2}
    (tiny_style / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(InputError, match=r"unknown key\(s\) ears") as info:
        Style.load(tiny_style)
    assert "\n" not in str(info.value)
