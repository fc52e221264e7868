"""Identity similarity with dlib's face-recognition ResNet on real SCUT portraits."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from conftest import shared_data
from toonforge.errors import InputError
from toonforge.metrics import (
    SAME_PERSON_DISTANCE,
    FaceDescriber,
    IdentityScore,
    descriptor_distance,
    identity_similarity,
    score_identity,
)
from toonforge.metrics.identity import box_iou, default_face_rec_path


def test_similarity_distance_and_iou_by_hand():
    a, b = np.array([3.0, 4.0]), np.array([4.0, -3.0])
    assert identity_similarity(a, 2 * a) == pytest.approx(1.0)
    assert identity_similarity(a, b) == pytest.approx(0.0)
    assert identity_similarity(a, -a) == pytest.approx(-1.0)
    assert identity_similarity(a, np.zeros(2)) == 0.0
    assert descriptor_distance(a, b) == pytest.approx(np.sqrt(50.0))
    assert SAME_PERSON_DISTANCE == 0.6
    with pytest.raises(InputError):
        descriptor_distance(a, np.zeros(3))
    # Two 10x10 boxes overlapping in a 5x10 strip: 50 / (100 + 100 - 50).
    assert box_iou(np.array([0, 0, 10, 10]), np.array([5, 0, 15, 10])) == pytest.approx(1 / 3)
    assert box_iou(np.array([0, 0, 10, 10]), np.array([20, 20, 30, 30])) == 0.0


@pytest.fixture(scope="module")
def dlib_tools():
    pytest.importorskip("dlib", reason="dlib (dlib-bin) is not installed")
    from toonforge.face.detector import create_detector

    assert default_face_rec_path().name == "dlib_face_recognition_resnet_model_v1.dat"
    return FaceDescriber(), create_detector("dlib")


@pytest.fixture(scope="module")
def portraits(dlib_tools):
    from toonforge.io.images import load_image

    folder = shared_data("faces/scut")
    _, detector = dlib_tools
    out = []
    for name in ("AF1554.jpg", "AF1555.jpg"):  # two different people
        rgb = load_image(folder / name).rgb
        faces = detector(rgb)
        assert faces, f"no face found in {name}"
        out.append((rgb, faces[0]))
    return out


@pytest.mark.data
def test_identity_of_an_image_with_itself_is_one(dlib_tools, portraits):
    describer, detector = dlib_tools
    photo, face = portraits[0]
    desc = describer.describe(photo, face)
    assert desc.shape == (128,) and desc.dtype == np.float64
    score = score_identity(photo, photo.copy(), face, describer, detector)
    assert isinstance(score, IdentityScore)
    assert score.similarity == pytest.approx(1.0, abs=1e-9) and score.distance == pytest.approx(0.0, abs=1e-9)
    assert score.face_found


@pytest.mark.data
def test_same_person_blurred_beats_another_person(dlib_tools, portraits):
    describer, detector = dlib_tools
    (photo, face), (other, other_face) = portraits
    blurred = cv2.GaussianBlur(photo, (0, 0), 1.0)
    same = score_identity(photo, blurred, face, describer, detector)
    d_photo, d_other = describer.describe(photo, face), describer.describe(other, other_face)
    assert same.face_found
    assert same.distance < SAME_PERSON_DISTANCE
    assert same.similarity > identity_similarity(d_photo, d_other)
    assert same.distance < descriptor_distance(d_photo, d_other)
    # A stylized image of another size is scaled to the photo's before comparing.
    bigger = cv2.resize(blurred, (photo.shape[1] * 3 // 2, photo.shape[0] * 3 // 2))
    assert score_identity(photo, bigger, face, describer, detector).similarity > same.similarity - 0.01


@pytest.mark.data
def test_no_face_found_in_a_flat_grey_image(dlib_tools, portraits):
    describer, detector = dlib_tools
    photo, face = portraits[0]
    grey = np.full_like(photo, 128)
    score = score_identity(photo, grey, face, describer, detector)
    assert not score.face_found
    assert score.distance > 0
    with pytest.raises(InputError):
        score_identity(photo, grey[..., 0], face, describer, detector)


def test_describer_rejects_a_missing_model_file(tmp_path):
    pytest.importorskip("dlib", reason="dlib (dlib-bin) is not installed")
    with pytest.raises(InputError, match="not found"):
        FaceDescriber(model_path=tmp_path / "missing.dat")
