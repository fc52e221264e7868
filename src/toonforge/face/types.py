"""The face record that detectors return and alignment consumes.

Coordinates are in pixels of the image the face was found in, with the centre of pixel
``(col, row)`` at ``(x, y) = (col, row)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Face", "box_iou", "five_points", "five_points_f64"]

# iBUG 300-W 68-point indexing. Points 36-41 are the eye that appears on the image's left in an
# upright, unmirrored photo (the subject's right eye); 42-47 the other one.
_LEFT_EYE = slice(36, 42)
_RIGHT_EYE = slice(42, 48)
_NOSE_TIP = 30
_MOUTH_LEFT = 48
_MOUTH_RIGHT = 54


def five_points(landmarks: np.ndarray) -> np.ndarray:
    """Reduce 68-point (iBUG 300-W) or 5-point landmarks to the five used for alignment.

    Args:
        landmarks: ``(68, 2)`` or ``(5, 2)`` float ``x, y`` pixel coordinates. Five points
            must already be in the order below (the RetinaFace/InsightFace convention).

    Returns:
        ``(5, 2)`` float32: left eye centre, right eye centre, nose tip, left mouth corner,
        right mouth corner. Left/right are as seen in the image for an upright face (the
        left one has the smaller x); the order follows the anatomy, so a face upside down
        keeps its labels and still aligns upright.
    """
    return five_points_f64(landmarks).astype(np.float32)


def five_points_f64(landmarks: np.ndarray) -> np.ndarray:
    """:func:`five_points` computed and returned in float64 (for building transforms)."""
    lm = np.asarray(landmarks, dtype=np.float64)
    if lm.shape == (5, 2):
        return lm.copy()
    if lm.shape != (68, 2):
        raise ValueError(f"landmarks must have shape (68, 2) or (5, 2), got {lm.shape}")
    return np.stack([
        lm[_LEFT_EYE].mean(axis=0),
        lm[_RIGHT_EYE].mean(axis=0),
        lm[_NOSE_TIP],
        lm[_MOUTH_LEFT],
        lm[_MOUTH_RIGHT],
    ])


@dataclass
class Face:
    """One detected face.

    Attributes:
        box: ``(4,)`` float32 ``x0, y0, x1, y1`` in pixels (may reach slightly outside the
            image).
        landmarks: ``(N, 2)`` float32 ``x, y`` in pixels; N = 68 (iBUG 300-W order) or 5
            (the order of :func:`five_points`).
        score: detector confidence; its scale depends on the backend (larger = surer).
    """

    box: np.ndarray
    landmarks: np.ndarray
    score: float

    def __post_init__(self) -> None:
        self.box = np.asarray(self.box, dtype=np.float32).reshape(-1)
        self.landmarks = np.asarray(self.landmarks, dtype=np.float32)
        if self.box.shape != (4,):
            raise ValueError(f"box must have 4 values x0, y0, x1, y1, got {self.box.shape}")
        if self.landmarks.shape not in {(68, 2), (5, 2)}:
            raise ValueError(f"landmarks must be (68, 2) or (5, 2), got {self.landmarks.shape}")
        self.score = float(self.score)

    @property
    def area(self) -> float:
        """Box area in square pixels."""
        x0, y0, x1, y1 = (float(v) for v in self.box)
        return max(x1 - x0, 0.0) * max(y1 - y0, 0.0)

    def five_points(self) -> np.ndarray:
        """``(5, 2)`` float32: left eye, right eye, nose tip, left and right mouth corners
        (see :func:`five_points`)."""
        return five_points(self.landmarks)

    def scaled(self, factor: float) -> Face:
        """The same face in an image resized by ``factor`` (pixel centres kept consistent)."""
        f = float(factor)
        box = (self.box + 0.5) * f - 0.5
        lm = (self.landmarks + 0.5) * f - 0.5
        return Face(box=box, landmarks=lm, score=self.score)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of boxes ``a`` (M, 4) and ``b`` (N, 4), ``x0, y0, x1, y1``.

    Returns (M, N) float64 in [0, 1].
    """
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    ix = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    iy = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = ix * iy
    area_a = np.clip(a[:, 2] - a[:, 0], 0, None) * np.clip(a[:, 3] - a[:, 1], 0, None)
    area_b = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)
