"""The second look at weak detections (face/second_look.py) and the 40 px faces it lets the default find."""

from __future__ import annotations

import numpy as np
import pytest

from test_face_frontend import portraits  # noqa: F401 (the module's real-portrait fixture)
from toonforge.face import blazeface as bf
from toonforge.face.frontend import build_detector
from toonforge.face.second_look import ZOOM, confirm, look_candidates, zoom_window
from toonforge.face.types import box_iou


def _det(box, score):
    return np.asarray(box, np.float32), np.zeros((6, 2), np.float32), float(score)


def test_candidates_skip_weak_boxes_on_kept_faces_and_keep_the_best():
    strong = [_det([100, 100, 200, 200], 0.9)]
    weak = [
        _det([110, 105, 205, 210], 0.35),  # the kept face again
        _det([140, 140, 160, 160], 0.33),  # a small box inside it
        _det([60, 60, 360, 360], 0.3),  # a large box around it
        _det([500, 500, 540, 540], 0.25),  # elsewhere
        _det([700, 100, 740, 140], 0.2),  # elsewhere
    ]
    out = look_candidates(weak, strong, limit=8)
    assert [d[2] for d in out] == [0.25, 0.2]
    assert [d[2] for d in look_candidates(weak, strong, limit=1)] == [0.25]
    assert len(look_candidates(weak, [], limit=3)) == 3


def test_zoom_window_is_centred_and_confirm_needs_score_and_place():
    win = zoom_window(np.array([100, 200, 140, 240]))
    assert win.side == round(ZOOM * 40) and (win.x0 + win.side / 2, win.y0 + win.side / 2) == (120, 220)
    assert win.smallest < 0.89 * 40 < win.largest
    cand = _det([100, 200, 140, 240], 0.2)
    here, low = _det([102, 198, 144, 242], 0.8), _det([102, 198, 144, 242], 0.5)
    beside = _det([150, 200, 190, 240], 0.9)
    assert confirm(cand, [beside, here], 0.65) is here  # the neighbour's centre is outside the candidate
    assert confirm(cand, [beside, low], 0.65) is None


def _blaze_box(face: np.ndarray) -> np.ndarray:
    """The BlazeFace box whose dlib-like box (bf.dlib_box) is ``face``."""
    side = face[2] - face[0]
    w = side / 0.89
    cx, cy = (face[0] + face[2]) / 2, (face[1] + face[3]) / 2 - 0.043 * w
    return np.array([cx - w / 2, cy - w / 2, cx + w / 2, cy + w / 2], np.float32)


@pytest.mark.data
def test_second_look_keeps_a_weak_candidate_on_a_face_and_rejects_one_on_the_backdrop(portraits):  # noqa: F811
    from toonforge.evaluation.group_photos import compose_group

    g = compose_group(portraits[:3], [42, 120, 200], (1920, 1080), seed=3)
    face = g.boxes[0]
    # A place on the textured backdrop, far from every pasted portrait.
    ys, xs = np.mgrid[60:1020:40, 60:1860:40]
    centres = np.stack([xs.ravel(), ys.ravel()], 1).astype(np.float64)
    far = np.min([np.abs(centres - (b[:2] + b[2:]) / 2).max(1) - 2 * (b[2] - b[0]) for b in g.boxes], axis=0)
    spot = centres[np.argmax(far)]
    backdrop = face - np.r_[(face[:2] + face[2:]) / 2, (face[:2] + face[2:]) / 2] + np.r_[spot, spot]
    boxes = np.stack([_blaze_box(face), _blaze_box(backdrop)])
    weak = [(boxes, np.zeros((2, 6, 2), np.float32), np.array([0.2, 0.3], np.float32))]
    det = bf.BlazeFaceDetector(landmarks="5", min_face=40)
    kept = det._second_look(g.image, weak, [])
    assert len(kept) == 1
    box, kp, score = kept[0]
    assert score >= det.threshold
    assert box_iou(bf.dlib_box(box)[None], face[None])[0, 0] > 0.5  # the zoomed view's box, on the face
    assert np.all((kp[:2] > face[:2]) & (kp[:2] < face[2:]))  # its eyes inside the face
    assert det._second_look(g.image, [(boxes[1:], weak[0][1][1:], weak[0][2][1:])], []) == []


@pytest.mark.data
def test_default_detector_finds_40_to_48_px_faces_in_a_1080p_group_photo(portraits):  # noqa: F811
    from toonforge.evaluation.group_photos import compose_group

    sides = [40, 42, 44, 46, 48, 120]
    g = compose_group(portraits[:6], sides, (1920, 1080), seed=0)
    det = build_detector("blazeface", min_face=40)
    faces = det(g.image)
    assert len(faces) == len(sides) and not det.last_below_min  # every face, nothing else
    boxes = np.stack([f.box for f in faces])
    iou = box_iou(g.boxes, boxes)
    assert (iou.max(1) > 0.5).all(), iou.max(1).round(2)
    for truth, j in zip(g.boxes, iou.argmax(1)):  # each found at its place and size
        side = truth[2] - truth[0]
        assert np.abs((boxes[j, :2] + boxes[j, 2:]) / 2 - (truth[:2] + truth[2:]) / 2).max() < 0.15 * side
        assert 0.75 * side < boxes[j, 2] - boxes[j, 0] < 1.3 * side


def test_parts_of_a_larger_face_are_dropped():
    big = _det([1000, 1000, 1800, 1800], 0.9)  # an 800 px face
    mouth = _det([1300, 1500, 1460, 1660], 0.6)  # its lower half scored as a face
    beside = _det([1900, 1100, 2060, 1260], 0.7)  # a face next to it: kept
    near_twin = _det([1500, 1100, 1950, 1550], 0.8)  # overlapping but not half its width: kept
    out = bf.without_parts([big, near_twin, beside, mouth])
    assert [d[2] for d in out] == [0.9, 0.8, 0.7]
    assert bf.without_parts([mouth]) == [mouth] and bf.without_parts([]) == []
