"""Face-and-hair masks: geometry on synthetic landmarks, the folder writer, a real photo."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from toonforge.errors import InputError
from toonforge.face.landmarks68 import Landmarks68
from toonforge.face.region_mask import fallback_mask, region_mask, region_polygon, write_region_masks
from toonforge.face.types import Face

SCUT = Path("/work/shared/data/faces/scut")


def synthetic_landmarks(cx: float = 100.0, cy: float = 110.0, a: float = 40.0, b: float = 50.0) -> np.ndarray:
    """68 plausible points of an upright face: jaw on a half ellipse (ends at eye level cy,
    chin at cy + b), brows at cy - 0.3 b, eyes, nose and mouth inside."""
    lm = np.zeros((68, 2), np.float64)
    t = np.linspace(np.pi, 0.0, 17)  # image left ear -> chin -> right ear
    lm[0:17] = np.stack([cx + a * np.cos(t), cy + b * np.sin(t)], axis=1)
    lm[17:27] = np.stack([np.linspace(cx - 0.8 * a, cx + 0.8 * a, 10), np.full(10, cy - 0.3 * b)], axis=1)
    inner = np.linspace(-0.5, 0.5, 41)
    lm[27:68] = np.stack([cx + inner * a, cy + 0.2 * b + 0.4 * b * np.abs(inner)], axis=1)
    return lm


def test_mask_covers_face_and_hair_not_background():
    lm = synthetic_landmarks()
    m = region_mask(lm, (220, 200))
    assert m.shape == (220, 200) and m.dtype == np.float32
    assert 0.0 <= float(m.min()) and float(m.max()) <= 1.0
    assert m[120, 100] > 0.99  # face centre
    assert m[110 - 15 - 25, 100] > 0.99  # forehead/hair: 25 px above the brows
    assert m[110, 100 + 40 + 3] > 0.9  # just beside the jaw end (temples)
    assert m[5, 5] < 0.01 and m[215, 195] < 0.01 and m[200, 100] < 0.01  # corners, below the chin
    # soft edge: some values strictly between 0 and 1
    assert ((m > 0.05) & (m < 0.95)).sum() > 50


def test_geometry_follows_head_rotation():
    lm = synthetic_landmarks()
    base = region_mask(lm, (220, 200), feather=0.0)
    rot = cv2.getRotationMatrix2D((100.0, 110.0), 30.0, 1.0)
    lm_rot = np.c_[lm, np.ones(68)] @ rot.T
    turned = region_mask(lm_rot, (220, 200), feather=0.0)
    expected = cv2.warpAffine(base, rot, (200, 220))
    a, b = turned > 0.5, expected > 0.5
    assert (a & b).sum() / (a | b).sum() > 0.95


def test_polygon_widens_with_side_and_grows_up_with_up():
    lm = synthetic_landmarks()
    narrow, wide = region_polygon(lm, side=0.0), region_polygon(lm, side=0.3)
    assert np.ptp(wide[:, 0]) > np.ptp(narrow[:, 0]) + 0.5 * 80 * 0.3
    low, high = region_polygon(lm, up=0.2), region_polygon(lm, up=1.0)
    assert high[:, 1].min() < low[:, 1].min() - 30
    with pytest.raises(InputError, match="68"):
        region_polygon(lm[:5])


def test_fallback_is_a_central_ellipse():
    m = fallback_mask((100, 80))
    assert m[50, 40] == pytest.approx(1.0) and m[0, 0] < 0.01 and m.dtype == np.float32


class FakeDetector:
    """Finds the synthetic face in images whose name stem was marked as having one."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, rgb: np.ndarray) -> list[Face]:
        self.calls += 1
        if rgb[0, 0, 0] > 128:  # our convention: a bright corner means "no face here"
            return []
        lm = synthetic_landmarks()
        return [Face(box=np.array([60, 60, 140, 160]), landmarks=lm, score=1.0)]


def test_write_masks_resumes_and_reports_faceless(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(3):
        img = np.zeros((220, 200, 3), np.uint8)
        img[0, 0] = 255 if i == 2 else 0
        Image.fromarray(img).save(photos / f"p{i}.png")
    det = FakeDetector()
    rep = write_region_masks(photos, tmp_path / "masks", detector=det, size=64, progress=False)
    assert (rep.written, rep.skipped, rep.no_face) == (3, 0, ["p2"])
    saved = np.asarray(Image.open(tmp_path / "masks" / "p0.png"))
    assert saved.shape[:2] == (64, 64) and saved.max() == 255 and saved[0, 0].max() == 0
    (tmp_path / "masks" / "p1.png").unlink()
    rep = write_region_masks(photos, tmp_path / "masks", detector=det, size=64, progress=False)
    assert (rep.written, rep.skipped) == (1, 2) and det.calls == 4


def test_real_photo_mask(tmp_path):
    if not SCUT.is_dir():
        pytest.skip(f"{SCUT} not present (offline face data)")
    from toonforge.errors import MissingDependencyError
    from toonforge.face.detector import create_detector

    try:
        det = create_detector("dlib")
    except MissingDependencyError as exc:
        pytest.skip(str(exc))
    photo = sorted(SCUT.glob("*.jpg"))[0]
    (tmp_path / "p").mkdir()
    shutil.copy(photo, tmp_path / "p" / photo.name)
    rep = write_region_masks(tmp_path / "p", tmp_path / "m", detector=det, progress=False)
    assert rep.written == 1 and rep.no_face == []
    m = np.asarray(Image.open(tmp_path / "m" / f"{photo.stem}.png").convert("L")).astype(np.float32) / 255
    h, w = m.shape
    assert m[h // 2, w // 2] > 0.9 and 0.1 < m.mean() < 0.9


def test_landmarks68_takes_the_first_face_with_68_points():
    five = Face(box=np.zeros(4, np.float32), landmarks=np.ones((5, 2), np.float32), score=1.0)
    first = Face(box=np.zeros(4, np.float32), landmarks=np.full((68, 2), 2, np.float32), score=1.0)
    second = Face(box=np.zeros(4, np.float32), landmarks=np.full((68, 2), 3, np.float32), score=1.0)
    rgb = np.zeros((8, 8, 3), np.uint8)
    assert Landmarks68(lambda _: [five, first, second])(rgb).tolist() == first.landmarks.tolist()
    assert Landmarks68(lambda _: [five])(rgb) is None and Landmarks68(lambda _: [])(rgb) is None
