"""The 68 landmarks of a photo's face, for the batch jobs that draw masks from them.

Region masks (``face.region_mask``), skin-stroke cleanup (``training.stroke_cleanup``) and the
stroke count (``toonforge.evaluation.skin_ink``) all walk a folder of photos, need the iBUG 68-point
landmarks of the first face in each, and treat a photo without one the same way: they list it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .types import Face

__all__ = ["FaceJobReport", "Landmarks68"]

Detector = Callable[[np.ndarray], list[Face]]


@dataclass
class FaceJobReport:
    """What a per-photo batch job did: files written, files kept from an earlier run, and the
    stems of photos that showed no face with 68 landmarks."""

    written: int = 0
    skipped: int = 0
    no_face: list[str] = field(default_factory=list)


class Landmarks68:
    """``rgb -> (68, 2) float32 landmarks of the first such face, or None``.

    ``detector``: any callable ``rgb -> list[Face]``; by default the dlib backend, created on
    the first call (so a job that finds every output already written never loads it).
    """

    def __init__(self, detector: Detector | None = None) -> None:
        self._detector = detector

    def __call__(self, rgb: np.ndarray) -> np.ndarray | None:
        if self._detector is None:
            from .detector import create_detector

            self._detector = create_detector("dlib")
        for face in self._detector(rgb):
            points = np.asarray(face.landmarks, dtype=np.float32)
            if points.shape == (68, 2):
                return points
        return None
