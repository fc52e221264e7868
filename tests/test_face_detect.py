"""dlib face detection and landmarks on real portraits from the shared data folder."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from toonforge.errors import InputError, MissingDependencyError
from toonforge.face import detector as detector_module
from toonforge.face.detector import (
    FaceDetector,
    available_detectors,
    create_detector,
    register_detector,
)
from toonforge.face.types import Face
from toonforge.io.images import load_image

DATA = Path(__file__).parents[1] / ".." / "shared" / "data"
SCUT = DATA / "faces" / "scut"
PHOTOS = sorted(SCUT.glob("*.jpg"))[:4] if SCUT.is_dir() else []

needs_photos = pytest.mark.skipif(
    len(PHOTOS) < 4, reason=f"needs the SCUT portraits in {SCUT.resolve()} (shared data folder)"
)


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    pytest.importorskip("dlib", reason="dlib (dlib-bin) is not installed")
    return create_detector("dlib")


@pytest.fixture(scope="module")
def photos() -> list[np.ndarray]:
    return [load_image(p).rgb for p in PHOTOS]


def _check_face(face: Face, shape: tuple[int, ...]) -> None:
    assert face.box.shape == (4,) and face.box.dtype == np.float32
    assert face.landmarks.shape == (68, 2) and face.landmarks.dtype == np.float32
    x0, y0, x1, y1 = face.box
    side = x1 - x0
    assert 0.2 * shape[1] < side < shape[1]
    # dlib's box runs from the brows to the chin; the jaw line may poke out a little.
    slack = 0.15 * side
    assert np.all(face.landmarks[:, 0] > x0 - slack) and np.all(face.landmarks[:, 0] < x1 + slack)
    assert np.all(face.landmarks[:, 1] > y0 - slack) and np.all(face.landmarks[:, 1] < y1 + slack)
    left_eye, right_eye, nose, mouth_left, mouth_right = face.five_points()
    assert left_eye[0] < right_eye[0] and mouth_left[0] < mouth_right[0]
    assert max(left_eye[1], right_eye[1]) < nose[1] < min(mouth_left[1], mouth_right[1])


@pytest.mark.data
@needs_photos
def test_one_face_per_portrait(detector: FaceDetector, photos: list[np.ndarray]) -> None:
    for rgb in photos:
        faces = detector(rgb)
        assert len(faces) == 1
        _check_face(faces[0], rgb.shape)
        assert faces[0].score > 0


@pytest.mark.data
@needs_photos
def test_two_faces_side_by_side(detector: FaceDetector, photos: list[np.ndarray]) -> None:
    small = cv2.resize(photos[1], (280, 280), interpolation=cv2.INTER_AREA)
    pair = np.zeros((350, 630, 3), np.uint8)
    pair[:, :350] = photos[0]
    pair[35:315, 350:] = small
    faces = detector(pair)
    assert len(faces) == 2
    assert faces[0].area > faces[1].area  # largest first
    assert faces[0].box[2] < 360 and faces[1].box[0] > 340
    for face in faces:
        _check_face(face, (350, 350, 3))


@pytest.mark.data
@needs_photos
def test_large_image_is_detected_downscaled(detector: FaceDetector,
                                            photos: list[np.ndarray]) -> None:
    rgb = photos[2]
    big = cv2.resize(rgb, (1400, 1400), interpolation=cv2.INTER_CUBIC)  # 4x, above 640
    small_face, = detector(rgb)
    big_face, = detector(big)
    # Same face: boxes agree after scaling (within the detector's step), and the landmarks,
    # found at full resolution, agree closely.
    expected_box = (small_face.box + 0.5) * 4 - 0.5
    # (HOG boxes from different pyramid levels differ by up to ~20% of the side.)
    assert np.abs(big_face.box - expected_box).max() < 0.2 * (expected_box[2] - expected_box[0])
    expected = (small_face.five_points() + 0.5) * 4 - 0.5
    assert np.abs(big_face.five_points() - expected).max() < 16


def test_flat_grey_image_has_no_face(detector: FaceDetector) -> None:
    assert detector(np.full((300, 400, 3), 128, np.uint8)) == []


def test_detector_input_checks(detector: FaceDetector) -> None:
    assert isinstance(detector, FaceDetector)
    with pytest.raises(ValueError):
        detector(np.zeros((50, 50), np.uint8))


def test_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    # Register into a copy so the test backend does not outlive this test.
    monkeypatch.setattr(detector_module, "_REGISTRY", dict(detector_module._REGISTRY))
    assert "dlib" in available_detectors()
    with pytest.raises(InputError, match=r"unknown face detector 'nope' \(available: .*dlib"):
        create_detector("nope")

    @register_detector("test-none")
    class NoFaces:
        def __call__(self, rgb: np.ndarray) -> list[Face]:
            return []

    assert "test-none" in available_detectors()
    assert create_detector("test-none")(np.zeros((8, 8, 3), np.uint8)) == []
    with pytest.raises(ValueError, match="already registered"):
        register_detector("test-none")(lambda: NoFaces())


def test_missing_model_file(tmp_path: Path) -> None:
    pytest.importorskip("dlib", reason="dlib (dlib-bin) is not installed")
    with pytest.raises(MissingDependencyError, match="landmark model not found"):
        create_detector("dlib", predictor_path=tmp_path / "missing.dat")


def test_shape_near_gives_the_points_of_the_whole_image() -> None:
    pytest.importorskip("dlib", reason="dlib (dlib-bin) is not installed")
    import cv2

    from toonforge.face.dlib_backend import default_predictor_path, shape_near, shared_predictor

    predictor = shared_predictor(default_predictor_path())
    import dlib

    rng = np.random.default_rng(4)
    image = cv2.resize(rng.integers(0, 256, (24, 40, 3), dtype=np.uint8), (800, 480), interpolation=cv2.INTER_CUBIC)
    for box in [(300, 150, 420, 270), (-30, 400, 90, 520), (700, -20, 830, 110), (10, 10, 470, 470)]:
        whole = np.array([(p.x, p.y) for p in predictor(image, dlib.rectangle(*box)).parts()], np.float32)
        near = shape_near(predictor, image, box)
        assert near.shape == (68, 2) and np.array_equal(near, whole), box


def test_tracking_runs_the_predictor_once_for_a_settled_face_and_twice_for_a_moving_one() -> None:
    pytest.importorskip("dlib", reason="dlib (dlib-bin) is not installed")
    import cv2

    from toonforge.face.dlib_backend import (
        SETTLED,
        default_predictor_path,
        shape_near,
        shared_predictor,
        track_by_landmarks,
    )
    from toonforge.face.types import Face

    predictor = shared_predictor(default_predictor_path())
    calls = []

    def counting(image, rect):
        calls.append(rect)
        return predictor(image, rect)

    rng = np.random.default_rng(5)
    image = cv2.resize(rng.integers(0, 256, (24, 40, 3), dtype=np.uint8), (800, 480), interpolation=cv2.INTER_CUBIC)
    box = np.array([300.0, 150.0, 420.0, 270.0])
    here = shape_near(predictor, image, (300, 150, 420, 270))
    settled = Face(box=box, landmarks=here + np.float32(0.3 * SETTLED * 120), score=1.0)  # moved by a hair
    far = Face(box=box, landmarks=here + np.float32(0.2 * 120), score=1.0)  # a fifth of the side away
    out = track_by_landmarks(counting, image, [settled])
    assert len(calls) == 1 and np.array_equal(out[0].landmarks, here)
    calls.clear()
    out = track_by_landmarks(counting, image, [far])
    assert len(calls) == 2 and len(out) == 1
