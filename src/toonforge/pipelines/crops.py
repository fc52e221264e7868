"""The two ways a photo becomes a square network input, shared by ``translate`` and ``align``.

- ``aligned``: the largest detected face, FFHQ-aligned at S x S (what the stylizer's head path feeds
  its model).
- ``full``: the whole photo, padded to a square by mirroring its border (centred: the aspect ratio is
  kept, nothing is cut) and resized to S x S.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..errors import InputError
from ..face.detector import FaceDetector
from ..io.images import list_images, load_image, resize_rgb

__all__ = ["LazyDetector", "collect_photos", "face_crop", "read_or_report", "square_image"]


def square_image(rgb: np.ndarray, size: int) -> np.ndarray:
    """(H, W, 3) uint8 -> (size, size, 3) uint8: mirror-pad the short side (centred) to a square, resize."""
    h, w = rgb.shape[:2]
    pad = abs(h - w)
    a, b = pad // 2, pad - pad // 2
    top, bottom, left, right = (a, b, 0, 0) if h < w else (0, 0, a, b)
    if pad:
        border = cv2.BORDER_REFLECT_101 if min(h, w) > 1 else cv2.BORDER_REPLICATE
        rgb = cv2.copyMakeBorder(rgb, top, bottom, left, right, border)
    return resize_rgb(rgb, (size, size))


def collect_photos(photos: Path, limit: int | None = None) -> list[Path]:
    """The images of a folder (sorted by name), or the one file given; InputError when there are none,
    the path is missing, or two share a name stem (their outputs would collide)."""
    files = list_images(photos) if photos.is_dir() else [photos] if photos.is_file() else None
    if files is None:
        raise InputError(f"no such file or folder: {photos}")
    seen: dict[str, Path] = {}
    for f in files:
        if f.stem in seen:
            raise InputError(f"two photos share the name {f.stem!r} ({seen[f.stem].name}, {f.name}); rename one")
        seen[f.stem] = f
    if not files:
        raise InputError(f"no images in {photos}")
    return files[:limit] if limit is not None else files


def read_or_report(path: Path, problems: list[tuple[str, str]]) -> np.ndarray | None:
    """The (H, W, 3) uint8 RGB of ``path``, or None after appending ``(path, reason)`` to ``problems``
    when it cannot be read (batch jobs skip such files and list them at the end)."""
    try:
        return load_image(path).rgb
    except InputError as exc:
        problems.append((str(path), str(exc)))
        return None


class LazyDetector:
    """A face detector built on first use (by name, or given as an object), so that runs with nothing
    to detect never load landmark models."""

    def __init__(self, detector: str | FaceDetector = "dlib") -> None:
        self._spec = detector
        self._det: FaceDetector | None = None if isinstance(detector, str) else detector

    def __call__(self, rgb: np.ndarray) -> list:
        if self._det is None:
            from ..face.detector import create_detector

            self._det = create_detector(self._spec)
        return self._det(rgb)


def face_crop(rgb: np.ndarray, kind: str, size: int,
              detect: LazyDetector) -> tuple[np.ndarray, list[float] | None] | None:
    """One square crop of an (H, W, 3) uint8 photo: ``(crop (size, size, 3) uint8, face box or None)``,
    or None when ``kind`` is ``aligned`` and no face is found. The box is the detector's
    [x0, y0, x1, y1] in photo pixels, rounded to 0.01."""
    if kind == "full":
        return square_image(rgb, size), None
    if kind != "aligned":
        raise ValueError(f"crop kind must be 'aligned' or 'full', got {kind!r}")
    faces = detect(rgb)
    if not faces:
        return None
    from ..face.align import align_face

    box = [round(float(v), 2) for v in faces[0].box]
    return align_face(rgb, faces[0].landmarks, size).crop, box
