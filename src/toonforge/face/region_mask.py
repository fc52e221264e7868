"""Face-and-hair masks from 68 landmarks, for the region-based U-GAT-IT background term.

Geometry, in the face's own frame (so tilted heads work): ``up`` points from the chin
(landmark 8) to the middle of the eyebrows (17-26), ``right`` is perpendicular to it, the
face width ``w`` is the distance between the jaw ends (0 and 16) and the face height ``h`` the
distance from chin to eyebrows. The mask is the filled convex hull of
* the jaw line 0-16, pushed sideways from the face centre by ``side * w`` each way (ears,
  hair at the temples), and
* a hair cap: the upper half of an ellipse centred between the eyebrows, with half-width
  ``(0.5 + side) * w`` and height ``up * h`` above the brows (forehead and hair volume),
then blurred by a Gaussian of sigma ``feather * w`` so the edge is soft. Values are float32
in [0, 1], 1 = face/hair (to be stylized), 0 = background (to be kept).

Photos without a detected face get :func:`fallback_mask`, a generous central ellipse: it
claims most of the frame as "face", so the background term constrains only the borders.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from ..errors import InputError
from .landmarks68 import Detector, FaceJobReport, Landmarks68

__all__ = ["MaskReport", "fallback_mask", "region_mask", "region_polygon", "write_region_masks"]


def region_polygon(landmarks: np.ndarray, up: float = 0.7, side: float = 0.12,
                   arc_points: int = 24) -> np.ndarray:
    """The (K, 2) float64 x, y outline (convex hull) of the face-and-hair region.

    landmarks: (68, 2) iBUG 300-W points in pixels. ``up`` and ``side`` as in the module doc.
    """
    lm = np.asarray(landmarks, dtype=np.float64)
    if lm.shape != (68, 2):
        raise InputError(f"region masks need 68 landmarks, got shape {lm.shape}")
    jaw, chin, brows = lm[0:17], lm[8], lm[17:27].mean(axis=0)
    height = float(np.linalg.norm(brows - chin))
    width = float(np.linalg.norm(lm[16] - lm[0]))
    if height < 1e-3 or width < 1e-3:
        raise InputError("degenerate landmarks (zero face width or height)")
    u = (brows - chin) / height  # image "up" of the face (y grows downwards in images)
    r = np.array([-u[1], u[0]])
    if np.dot(lm[16] - lm[0], r) < 0:
        r = -r  # point toward landmark 16
    centre = (lm[0] + lm[16]) / 2
    off = jaw - centre
    along_r = off @ r
    widened = jaw + np.outer(np.sign(along_r) * side * width, r)
    t = np.linspace(0.0, np.pi, arc_points)
    half_w, cap_h = (0.5 + side) * width, up * height
    cap = brows + np.outer(np.cos(t) * half_w, r) + np.outer(np.sin(t) * cap_h, u)
    pts = np.concatenate([widened, cap]).astype(np.float32)
    return cv2.convexHull(pts).reshape(-1, 2).astype(np.float64)


def _feathered(hard: np.ndarray, sigma: float) -> np.ndarray:
    """uint8 (0..255) coverage -> float32 [0, 1], blurred by ``sigma`` pixels."""
    soft = hard.astype(np.float32) / 255.0
    if sigma > 0:
        soft = cv2.GaussianBlur(soft, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_CONSTANT)
    return np.clip(soft, 0.0, 1.0)


def region_mask(landmarks: np.ndarray, shape: tuple[int, int], up: float = 0.7, side: float = 0.12,
                feather: float = 0.06) -> np.ndarray:
    """Soft face-and-hair mask (H, W) float32 in [0, 1] for an image of ``shape`` (H, W).

    landmarks: (68, 2) pixel x, y. ``feather`` is the blur sigma as a fraction of face width.
    """
    h, w = int(shape[0]), int(shape[1])
    poly = region_polygon(landmarks, up, side)
    hard = np.zeros((h, w), np.uint8)
    scale = 16  # sub-pixel polygon edges (cv2 fixed-point shift of 4 bits)
    cv2.fillPoly(hard, [np.round(poly * scale).astype(np.int32)], 255, lineType=cv2.LINE_AA, shift=4)
    lm = np.asarray(landmarks, np.float64)
    width = float(np.linalg.norm(lm[16] - lm[0]))
    return _feathered(hard, feather * width)


def fallback_mask(shape: tuple[int, int], feather: float = 0.06) -> np.ndarray:
    """The no-face mask: a central ellipse covering 80% of the width and 90% of the height,
    soft-edged; (H, W) float32 in [0, 1]."""
    h, w = int(shape[0]), int(shape[1])
    hard = np.zeros((h, w), np.uint8)
    cv2.ellipse(hard, (w // 2, h // 2), (max(1, int(0.4 * w)), max(1, int(0.45 * h))), 0, 0, 360, 255, -1)
    return _feathered(hard, feather * w)


MaskReport = FaceJobReport  # what write_region_masks did


def write_region_masks(photo_dir: str | os.PathLike[str], mask_dir: str | os.PathLike[str], *,
                       detector: Detector | None = None, size: int | None = None,
                       progress: bool = True, **geometry: float) -> MaskReport:
    """Write ``mask_dir/<stem>.png`` (grey, 255 = face/hair) for every photo in ``photo_dir``.

    Existing mask files are skipped, so an interrupted run resumes; files are written
    atomically. The largest detected face is used (68 landmarks needed); a photo without one
    gets :func:`fallback_mask` and its stem is listed in ``MaskReport.no_face``. ``size``:
    store masks centre-cropped and resized to ``size`` squares, exactly like the training
    photos (see ``square_resize``); None keeps the photo's resolution. ``detector``: any
    callable ``rgb -> list[Face]`` (default: the dlib backend). ``geometry``: ``up``, ``side``,
    ``feather`` for :func:`region_mask`.
    """
    from tqdm.auto import tqdm

    from ..io.images import list_images, load_image, save_image, square_resize

    photos = list_images(photo_dir)
    if not photos:
        raise InputError(f"no photos found in {photo_dir}")
    out = Path(mask_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = MaskReport()
    find_landmarks = Landmarks68(detector)
    for path in tqdm(photos, desc="face masks", unit="img", disable=not progress):
        target = out / f"{path.stem}.png"
        if target.exists():
            report.skipped += 1
            continue
        rgb = load_image(path).rgb
        landmarks = find_landmarks(rgb)
        if landmarks is not None:
            mask = region_mask(landmarks, rgb.shape[:2], **geometry)
        else:
            mask = fallback_mask(rgb.shape[:2], geometry.get("feather", 0.06))
            report.no_face.append(path.stem)
        grey = np.round(mask * 255).astype(np.uint8)
        grey = np.repeat(grey[..., None], 3, axis=2)
        if size is not None:
            grey = square_resize(grey, size)
        save_image(target, np.ascontiguousarray(grey))
        report.written += 1
    return report
