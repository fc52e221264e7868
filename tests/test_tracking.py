"""One Euro filter and the IoU face tracker."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import synthetic_face
from toonforge.face.align import ffhq_quad
from toonforge.face.tracking import FaceTracker, OneEuroFilter, box_iou
from toonforge.face.types import Face

FPS = 30.0


def moved(face: Face, d) -> Face:
    d = np.asarray(d, np.float32)
    return Face(face.box + np.tile(d, 2), face.landmarks + d, face.score)


def test_one_euro_steadies_a_noisy_constant():
    rng = np.random.default_rng(0)
    f = OneEuroFilter(min_cutoff=0.3, beta=0.0)
    raw = 5.0 + rng.normal(0, 1.0, (300, 3))
    out = np.array([f(x, i / FPS) for i, x in enumerate(raw)])
    assert np.allclose(out[0], raw[0])  # the first sample passes through
    assert out[30:].std(axis=0).max() < raw[30:].std(axis=0).min() / 4
    assert abs(out[30:].mean() - 5.0) < 0.2


def test_one_euro_follows_a_ramp_with_bounded_lag():
    speed = 100.0  # units per second
    for beta, max_lag in [(0.0, 0.2 * speed), (0.5, 0.03 * speed)]:
        f = OneEuroFilter(min_cutoff=1.0, beta=beta)
        ts = np.arange(90) / FPS
        out = np.array([f(np.array([speed * t]), t)[0] for t in ts])
        lag = speed * ts[-30:] - out[-30:]
        assert (lag >= 0).all() and lag.max() < max_lag  # behind, never ahead, and not by much
    with pytest.raises(ValueError):
        OneEuroFilter(min_cutoff=0.0)


def test_box_iou():
    a = np.array([[0, 0, 10, 10]])
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]])
    assert np.allclose(box_iou(a, b), [[1.0, 1 / 3, 0.0]])


def test_track_survives_short_gaps_and_is_dropped_after_max_missing():
    _, face = synthetic_face(200)
    tr = FaceTracker(max_missing=5)
    for i in range(5):
        out = tr.update([moved(face, (0.3 * i, 0))], i / FPS)
    held = out[0].landmarks.copy()
    for i in range(5, 8):  # three frames without a detection: the track coasts, unchanged
        out = tr.update([], i / FPS)
        assert len(out) == 1 and np.array_equal(out[0].landmarks, held)
    out = tr.update([moved(face, (2, 0))], 8 / FPS)  # found again: the same track, still smoothed
    assert len(out) == 1 and tr.track_count == 1 and out[0].landmarks[0, 0] < face.landmarks[0, 0] + 2
    for i in range(9, 14):  # missing for max_missing frames: still alive
        assert len(tr.update([], i / FPS)) == 1
    assert tr.update([], 14 / FPS) == [] and tr.track_count == 0  # one more: gone


def test_new_tracks_start_unsmoothed_and_faces_keep_their_own_tracks():
    _, face = synthetic_face(200)
    far = moved(face.scaled(0.5), (0, 0))
    far = Face(far.box + 120, far.landmarks + 120, 1.0)  # a second, smaller face elsewhere
    tr = FaceTracker()
    out = tr.update([far, face], 0.0)
    assert [o.area for o in out] == sorted([o.area for o in out], reverse=True)  # largest first
    assert np.array_equal(out[0].landmarks, face.landmarks) and np.array_equal(out[1].landmarks, far.landmarks)
    out = tr.update([moved(face, (1, 0)), moved(far, (1, 0))], 1 / FPS)
    assert tr.track_count == 2 and len(out) == 2
    assert abs(out[1].box[0] - far.box[0]) < 1.0  # matched to its own track (smoothed, not swapped)
    rng = np.random.default_rng(0)
    many = Face(face.box, rng.uniform(70, 130, (68, 2)), 1.0)  # a switch to 68 points restarts the filter
    out = tr.update([many, far], 2 / FPS)
    assert out[0].landmarks.shape == (68, 2) and np.allclose(out[0].landmarks, many.landmarks)


def crop_centres(faces: list[Face]) -> np.ndarray:
    return np.array([ffhq_quad(f.landmarks).mean(axis=0) for f in faces])


def test_smoothing_reduces_crop_jitter_of_a_jittered_track():
    _, face = synthetic_face(200)
    rng = np.random.default_rng(1)
    drift = np.linspace(0, 20, 90)  # a slow sideways move plus detector jitter of ~2 px
    raw = [moved(face, (d + rng.normal(0, 2.0), rng.normal(0, 2.0))) for d in drift]
    tr = FaceTracker()
    smooth = [tr.update([f], i / FPS)[0] for i, f in enumerate(raw)]
    jitter = lambda fs: np.diff(crop_centres(fs)[10:], axis=0).std()  # noqa: E731
    assert jitter(smooth) < jitter(raw) / 3
    truth = crop_centres([moved(face, (d, 0)) for d in drift])
    assert np.abs(crop_centres(smooth)[30:] - truth[30:]).mean() < 2.5  # follows the move
