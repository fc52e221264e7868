"""The face front end as the pipelines use it: which detector, how small a face, what to tell the user.

``DEFAULT_DETECTOR`` is the backend the stylize and video commands use unless told otherwise,
chosen by the recall and time measured in ``docs/face-detection.md``. :func:`build_detector`
makes a backend with a smallest face size; :func:`detection_notices` turns what a detector
saw but did not return (faces under the minimum, a frame too large to scan at full detail)
into one-line notices, so a face is never dropped silently.
"""

from __future__ import annotations

from toonforge.errors import InputError
from toonforge.face.detector import FaceDetector, available_detectors, create_detector

__all__ = ["DEFAULT_DETECTOR", "DEFAULT_MIN_FACE", "build_detector", "detection_notices"]

DEFAULT_DETECTOR = "blazeface"
DEFAULT_MIN_FACE = 40


def build_detector(name: str | None, *, min_face: int | None = None, threads: int | None = None
                   ) -> FaceDetector | None:
    """The detector ``name`` ("none" or None: no face handling) finding faces of ``min_face`` px and up.

    Raises:
        InputError: unknown name (one line listing the known ones) or a bad ``min_face``.
        MissingDependencyError: the backend's library or model is not installed.
    """
    if name is None or name == "none":
        return None
    if name not in available_detectors():
        raise InputError(f"unknown face detector '{name}' (available: {', '.join(available_detectors())}, none)")
    kwargs: dict[str, object] = {}
    if min_face is not None:
        kwargs["min_face"] = int(min_face)
    if threads is not None and name == "blazeface":
        kwargs["threads"] = int(threads)
    return create_detector(name, **kwargs)


def detection_notices(detector: FaceDetector | None) -> list[str]:
    """Notices about the detector's last call: faces found under its minimum, scan limits."""
    if detector is None:
        return []
    notes = list(getattr(detector, "last_notes", []))
    small = getattr(detector, "last_below_min", [])
    if small:
        sides = ", ".join(f"{float(f.box[2] - f.box[0]):.0f}" for f in small)
        minimum = getattr(detector, "min_face", "?")
        notes.append(f"{len(small)} face(s) smaller than --min-face {minimum} px left unstylized "
                     f"(found at {sides} px); lower --min-face to include them")
    return notes
