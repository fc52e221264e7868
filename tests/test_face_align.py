"""FFHQ-style alignment, inverse warp and paste-back, on synthetic landmarks and images."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from toonforge.face.align import (
    align_face,
    alignment_matrix,
    ffhq_quad,
    invert_affine,
    warp_points,
)
from toonforge.face.paste import feather_mask, paste_back
from toonforge.face.types import Face, five_points


def face_landmarks(cx: float, cy: float, eye_dist: float, angle_deg: float = 0.0,
                   seed: int = 0) -> np.ndarray:
    """68 iBUG-ordered points of a made-up upright face, rotated and placed in an image."""
    rng = np.random.default_rng(seed)
    pts = rng.uniform([-1.0, -0.8], [1.0, 1.6], size=(68, 2))  # filler for unused points
    ring = np.stack([np.cos(np.linspace(0, 2 * np.pi, 6, endpoint=False)),
                     0.4 * np.sin(np.linspace(0, 2 * np.pi, 6, endpoint=False))], 1) * 0.2
    pts[36:42] = ring + (-0.5, 0.0)
    pts[42:48] = ring + (0.5, 0.0)
    pts[30] = (0.0, 0.6)
    pts[48] = (-0.4, 1.1)
    pts[54] = (0.4, 1.1)
    a = np.deg2rad(angle_deg)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return (pts @ rot.T * eye_dist + (cx, cy)).astype(np.float32)


def smooth_texture(h: int, w: int, seed: int = 0, cell: int = 8) -> np.ndarray:
    """Random colours on a ``cell``-pixel grid, interpolated and blurred: detail at that scale."""
    rng = np.random.default_rng(seed)
    noise = rng.uniform(40, 215, (h // cell + 2, w // cell + 2, 3)).astype(np.float32)
    big = cv2.resize(noise, (w, h), interpolation=cv2.INTER_CUBIC)
    return np.clip(cv2.GaussianBlur(big, (0, 0), cell / 2), 0, 255).astype(np.uint8)


def test_five_points_from_68() -> None:
    lm = face_landmarks(200, 200, 60)
    pts = five_points(lm)
    assert pts.shape == (5, 2) and pts.dtype == np.float32
    np.testing.assert_allclose(pts[0], lm[36:42].mean(0), atol=1e-4)
    np.testing.assert_allclose(pts[1], lm[42:48].mean(0), atol=1e-4)
    np.testing.assert_allclose(pts[2:], lm[[30, 48, 54]])
    assert pts[0, 0] < pts[1, 0] and pts[3, 0] < pts[4, 0]
    face = Face(box=[0, 0, 10, 10], landmarks=lm, score=1)
    np.testing.assert_array_equal(face.five_points(), pts)
    with pytest.raises(ValueError):
        five_points(np.zeros((10, 2)))


def test_quad_is_upright_square_around_face() -> None:
    quad = ffhq_quad(face_landmarks(300, 250, 80))
    side = np.linalg.norm(quad[3] - quad[0])
    assert side == pytest.approx(4 * 80, rel=1e-5)  # |eye_to_eye| * 2 * 2
    np.testing.assert_allclose(np.linalg.norm(quad[1] - quad[0]), side, rtol=1e-6)
    assert quad[0, 0] < 300 < quad[3, 0] and quad[0, 1] < 250 < quad[1, 1]


@pytest.mark.parametrize(("angle", "eye_dist", "size"), [(0, 60, 256), (25, 40, 256),
                                                         (-70, 150, 128), (180, 50, 64)])
def test_round_trip_and_canonical_position(angle: float, eye_dist: float, size: int) -> None:
    lm = face_landmarks(320, 300, eye_dist, angle)
    aligned = align_face(smooth_texture(600, 640), lm, size)
    assert aligned.crop.shape == (size, size, 3) and aligned.crop.dtype == np.uint8
    back = warp_points(aligned.landmarks_in_crop, aligned.inverse)
    np.testing.assert_allclose(back, lm, atol=1e-2)
    # The same face at any angle, scale or place lands on the same crop positions.
    reference = alignment_matrix(face_landmarks(100, 90, 30), size)
    expected = warp_points(face_landmarks(100, 90, 30), reference)
    np.testing.assert_allclose(aligned.landmarks_in_crop, expected, atol=1e-2)
    # Eyes are level and left of the nose's column on the left side.
    eyes = five_points(aligned.landmarks_in_crop)[:2]
    assert abs(eyes[0, 1] - eyes[1, 1]) < 1e-2 and eyes[0, 0] < size / 2 < eyes[1, 0]


@pytest.mark.parametrize(("eye_dist", "size"), [(40, 256), (60, 200), (160, 96)])
def test_dots_appear_where_predicted(eye_dist: float, size: int) -> None:
    lm = face_landmarks(330, 310, eye_dist, 20)
    image = np.zeros((640, 660, 3), np.uint8)
    pts = five_points(lm)
    radius = max(2, round(eye_dist / 25))
    for x, y in pts:
        cv2.circle(image, (round(float(x) * 16), round(float(y) * 16)), radius * 16,
                   (255, 255, 255), -1, lineType=cv2.LINE_AA, shift=4)
    aligned = align_face(image, lm, size)
    predicted = warp_points(pts, aligned.matrix)
    gray = aligned.crop[:, :, 0].astype(np.float64)
    win = 6
    for px, py in predicted:
        x0, y0 = round(float(px)) - win, round(float(py)) - win
        patch = gray[y0:y0 + 2 * win + 1, x0:x0 + 2 * win + 1]
        assert patch.max() > 100
        ys, xs = np.mgrid[y0:y0 + 2 * win + 1, x0:x0 + 2 * win + 1]
        cx, cy = (patch * xs).sum() / patch.sum(), (patch * ys).sum() / patch.sum()
        assert abs(cx - px) < 1.0 and abs(cy - py) < 1.0


@pytest.mark.parametrize(("eye_dist", "size"), [(20, 256), (50, 128), (100, 64)])
def test_linear_ramp_sampled_at_exact_positions(eye_dist: float, size: int) -> None:
    """Bilinear and area resampling keep a linear ramp linear: checks the pixel-centre
    convention on the upscale, supersample and pre-shrink paths alike."""
    ys, xs = np.mgrid[0:500, 0:500].astype(np.float64)
    ramp = 20 + 0.25 * xs + 0.12 * ys
    image = np.repeat(np.rint(ramp)[:, :, None], 3, 2).astype(np.uint8)
    lm = face_landmarks(250, 240, eye_dist, 12)
    aligned = align_face(image, lm, size)
    v, u = np.mgrid[2:size - 2, 2:size - 2]
    src = warp_points(np.stack([u.ravel(), v.ravel()], 1), aligned.inverse)
    expected = 20 + 0.25 * src[:, 0] + 0.12 * src[:, 1]
    got = aligned.crop[2:size - 2, 2:size - 2, 1].ravel().astype(np.float64)
    assert np.abs(got - expected).max() < 1.6


def test_face_already_aligned_gives_identity() -> None:
    size = 512
    lm = face_landmarks(260, 240, 70, -15)
    in_crop = warp_points(lm, alignment_matrix(lm, size))
    np.testing.assert_allclose(alignment_matrix(in_crop, size), [[1, 0, 0], [0, 1, 0]],
                               atol=1e-6)


def test_68_and_5_points_give_the_same_matrix() -> None:
    lm = face_landmarks(150, 180, 45, 33, seed=3)
    # five_points rounds to float32, hence the tolerance.
    np.testing.assert_allclose(alignment_matrix(lm, 256), alignment_matrix(five_points(lm), 256),
                               atol=1e-4)


def test_invert_affine() -> None:
    m = alignment_matrix(face_landmarks(150, 180, 45, 33), 300)
    pts = np.random.default_rng(0).uniform(0, 400, (10, 2))
    np.testing.assert_allclose(warp_points(warp_points(pts, m), invert_affine(m)), pts, atol=1e-9)


def test_padding_near_the_border_has_no_black() -> None:
    image = smooth_texture(300, 300)
    lm = face_landmarks(50, 40, 50, 10)  # quad reaches well outside the top-left corner
    assert ffhq_quad(lm).min() < -60
    black = align_face(image, lm, 256, pad_mode="constant").crop
    assert (black.max(axis=2) == 0).mean() > 0.1  # the face really leaves the image
    for mode in ("ffhq", "reflect", "replicate"):
        crop = align_face(image, lm, 256, pad_mode=mode).crop
        assert crop.max(axis=2).min() > 20, mode
    # FFHQ padding fades far-away padding to a flat colour.
    crop = align_face(image, lm, 256).crop.astype(np.float64)
    assert crop[:20, :20].std(axis=(0, 1)).max() < 3


def test_align_rejects_bad_input() -> None:
    lm = face_landmarks(50, 40, 45)
    with pytest.raises(ValueError):
        align_face(np.zeros((10, 10), np.uint8), lm, 64)
    with pytest.raises(ValueError):
        align_face(np.zeros((10, 10, 3), np.uint8), lm, 64, pad_mode="wrap")
    with pytest.raises(ValueError, match="degenerate"):
        ffhq_quad(np.zeros((5, 2)))


@pytest.mark.parametrize(("eye_dist", "size"), [(60, 256), (30, 512), (120, 128)])
def test_paste_back_of_unchanged_crop(eye_dist: float, size: int) -> None:
    # Texture coarse enough to survive the crop's resolution (4 photo pixels per crop pixel
    # in the last case): what is lost in shrinking cannot come back.
    image = smooth_texture(480, 520, seed=2, cell=32)
    lm = face_landmarks(260, 250, eye_dist, 17)
    # Plain mirroring: FFHQ padding also softens the photo near its edge, on purpose.
    aligned = align_face(image, lm, size, pad_mode="reflect")
    mask = feather_mask(size)
    out = paste_back(image, aligned.crop, aligned.inverse, mask)
    assert out.shape == image.shape and out.dtype == np.uint8
    footprint = cv2.warpAffine(mask, aligned.inverse, (520, 480), flags=cv2.INTER_LINEAR)
    inside = footprint > 0.99
    assert inside.sum() > 1000
    diff = np.abs(out.astype(np.int64) - image)
    assert diff[inside].mean() < 1.0 and diff[inside].max() <= 6
    assert np.array_equal(out[footprint == 0], image[footprint == 0])


def test_paste_back_replaces_inside_the_mask() -> None:
    image = np.full((300, 300, 3), 50, np.uint8)
    lm = face_landmarks(150, 150, 40)
    aligned = align_face(image, lm, 128)
    white = np.full_like(aligned.crop, 250)
    out = paste_back(image, white, aligned.inverse)  # default feathered mask
    centre = warp_points(np.array([[63.5, 63.5]]), aligned.inverse)[0].round().astype(int)
    assert out[centre[1], centre[0]].tolist() == [250, 250, 250]
    assert out[0, 0].tolist() == [50, 50, 50]
    with pytest.raises(ValueError):
        paste_back(image, white, aligned.inverse, np.ones((10, 10), np.float32))


@pytest.mark.parametrize("ellipse", [False, True])
def test_feather_mask(ellipse: bool) -> None:
    size = 128
    mask = feather_mask(size, ellipse=ellipse)
    assert mask.shape == (size, size) and mask.dtype == np.float32
    assert mask.min() >= 0 and mask.max() <= 1
    assert mask[size // 2, size // 2] == 1.0
    for edge in (mask[0], mask[-1], mask[:, 0], mask[:, -1]):
        assert np.all(edge == 0)
    half = size // 2
    # Never increasing from the centre outwards, along rows, columns and the diagonal.
    for line in (mask[half, half:], mask[half:, half], np.diag(mask)[half:],
                 mask[half, :half][::-1], mask[:half, half][::-1]):
        assert np.all(np.diff(line) <= 1e-6)
    np.testing.assert_allclose(mask, mask.T, atol=1e-6)
    np.testing.assert_allclose(mask, mask[::-1], atol=1e-6)
    hard = feather_mask(size, margin=0.1, blur=0.0, ellipse=ellipse)
    assert set(np.unique(hard).tolist()) == {0.0, 1.0}
    with pytest.raises(ValueError):
        feather_mask(size, margin=0.3, blur=0.3)
