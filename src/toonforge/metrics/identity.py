"""Identity preservation between a photo and its stylization, with dlib's face-recognition ResNet.

dlib's ``dlib_face_recognition_resnet_model_v1.dat`` (shipped in the ``face-recognition-models``
wheel, found on disk without importing that package) maps an aligned face chip to a 128-d
descriptor; dlib treats two faces as the same person when their Euclidean distance is below
0.6. A stylized face is described with *its own* 68 landmarks, fitted by dlib's shape
predictor inside the *photo's* face box, so the comparison does not depend on a face detector
finding the stylized face. Whether a detector does find it is reported separately
(``face_found``).

dlib is imported only when a :class:`FaceDescriber` is built.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from toonforge.errors import InputError, MissingDependencyError
from toonforge.face.types import Face, box_iou

__all__ = ["FACE_REC_MODEL", "SAME_PERSON_DISTANCE", "FaceDescriber", "IdentityScore", "box_iou",
           "default_face_rec_path", "descriptor_distance", "identity_similarity", "score_identity"]

FACE_REC_MODEL = "dlib_face_recognition_resnet_model_v1.dat"
SAME_PERSON_DISTANCE = 0.6
FOUND_IOU = 0.3

_LOCK = threading.Lock()
_MODELS: dict[str, Any] = {}


def default_face_rec_path() -> Path:
    """Path of dlib's face-recognition model inside face-recognition-models (not imported).

    Raises:
        MissingDependencyError: the package or the file is missing.
    """
    from toonforge.face.dlib_backend import default_predictor_path

    path = default_predictor_path().parent / FACE_REC_MODEL
    if not path.is_file():
        raise MissingDependencyError(
            f"dlib's face-recognition model is missing ({path}): pip install face-recognition-models==0.3.0")
    return path


def _check_rgb(rgb: np.ndarray, what: str) -> np.ndarray:
    arr = np.asarray(rgb)
    if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] != 3:
        raise InputError(f"{what}: expected an (H, W, 3) uint8 RGB image, got {arr.dtype} {arr.shape}")
    return np.ascontiguousarray(arr)


class FaceDescriber:
    """128-d dlib face descriptors for a face box in an image.

    Args:
        model_path: dlib face-recognition ``.dat``; defaults to the packaged one.
        predictor_path: 68-point shape predictor ``.dat``; defaults to the packaged one.
        jitters: dlib's ``num_jitters`` (0 = describe the chip once; more is slower and smoother).
        padding: dlib's chip padding around the landmarks (its default, 0.25).
    """

    def __init__(self, model_path: str | Path | None = None, predictor_path: str | Path | None = None,
                 jitters: int = 0, padding: float = 0.25) -> None:
        from toonforge.face import dlib_backend

        model = Path(model_path) if model_path is not None else default_face_rec_path()
        predictor = Path(predictor_path) if predictor_path is not None else dlib_backend.default_predictor_path()
        for p in (model, predictor):
            if not p.is_file():
                raise InputError(f"dlib model file not found: {p}")
        self._dlib = dlib_backend.import_dlib()
        self._predictor = dlib_backend.shared_predictor(predictor)
        with _LOCK:
            if str(model) not in _MODELS:
                _MODELS[str(model)] = self._dlib.face_recognition_model_v1(str(model))
            self._model = _MODELS[str(model)]
        self.jitters = int(jitters)
        self.padding = float(padding)

    def describe(self, rgb: np.ndarray, face: Face) -> np.ndarray:
        """Descriptor of the face inside ``face.box`` of ``rgb``.

        Args:
            rgb: ``(H, W, 3)`` uint8 RGB image.
            face: its ``box`` (pixel coordinates of ``rgb``) is where landmarks are fitted;
                its own landmarks are not used.

        Returns:
            ``(128,)`` float64 descriptor (unit-scale; Euclidean distances near 0.6 separate people).
        """
        image = _check_rgb(rgb, "describe")
        x0, y0, x1, y1 = (float(v) for v in face.box)
        rect = self._dlib.rectangle(math.floor(x0), math.floor(y0), math.ceil(x1), math.ceil(y1))
        shape = self._predictor(image, rect)
        desc = self._model.compute_face_descriptor(image, shape, self.jitters, self.padding)
        return np.asarray(desc, dtype=np.float64).reshape(128)


def _pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(a, np.float64).reshape(-1), np.asarray(b, np.float64).reshape(-1)
    if x.shape != y.shape:
        raise InputError(f"descriptor sizes differ: {x.shape} vs {y.shape}")
    return x, y


def identity_similarity(desc_a: np.ndarray, desc_b: np.ndarray) -> float:
    """Cosine similarity of two descriptors, in [-1, 1] (1 = same direction); 0.0 if either is zero."""
    x, y = _pair(desc_a, desc_b)
    norm = float(np.linalg.norm(x) * np.linalg.norm(y))
    return float(np.clip(x @ y / norm, -1.0, 1.0)) if norm > 0 else 0.0


def descriptor_distance(desc_a: np.ndarray, desc_b: np.ndarray) -> float:
    """Euclidean distance of two descriptors (dlib: < ``SAME_PERSON_DISTANCE`` = same person)."""
    x, y = _pair(desc_a, desc_b)
    return float(np.linalg.norm(x - y))


@dataclass(frozen=True)
class IdentityScore:
    """``similarity``: cosine of the descriptors, [-1, 1]; ``distance``: Euclidean distance
    (< 0.6 = same person for dlib); ``face_found``: the detector found a face in the stylized
    image overlapping the photo's face box (IoU >= 0.3)."""

    similarity: float
    distance: float
    face_found: bool


def score_identity(photo: np.ndarray, stylized: np.ndarray, photo_face: Face, describer: FaceDescriber,
                   detector: Callable[[np.ndarray], list[Face]], *,
                   photo_descriptor: np.ndarray | None = None) -> IdentityScore:
    """Compare the face at ``photo_face.box`` in ``photo`` with the same region of ``stylized``.

    Args:
        photo: ``(H, W, 3)`` uint8 RGB input photo.
        stylized: ``(H', W', 3)`` uint8 RGB stylization of it; resized to ``(H, W)`` when its
            size differs (the face box is in photo pixels).
        photo_face: the face found in ``photo``.
        describer: a :class:`FaceDescriber`.
        detector: callable ``rgb -> list[Face]`` (e.g. ``create_detector("dlib")``).
        photo_descriptor: ``describer.describe(photo, photo_face)`` when already known (scoring
            several stylizations of one photo), else computed here.

    Returns:
        :class:`IdentityScore`.
    """
    photo = _check_rgb(photo, "photo")
    out = _check_rgb(stylized, "stylized image")
    h, w = photo.shape[:2]
    if out.shape[:2] != (h, w):
        shrink = out.shape[0] * out.shape[1] > h * w
        out = cv2.resize(out, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    d_photo = describer.describe(photo, photo_face) if photo_descriptor is None else photo_descriptor
    d_out = describer.describe(out, photo_face)
    found = any(box_iou(f.box, photo_face.box)[0, 0] >= FOUND_IOU for f in detector(out))
    return IdentityScore(similarity=identity_similarity(d_photo, d_out),
                         distance=descriptor_distance(d_photo, d_out), face_found=found)
