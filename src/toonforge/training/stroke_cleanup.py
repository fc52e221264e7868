"""Clean a teacher's pairs before distillation: no ink strokes on smooth skin.

A texture teacher (DCT-Net) draws the photo's shading as ink: smile lines, cheek shadows and
the nose bridge come out as dark strokes, which ages faces. Anime skin is flat. This step
edits the teacher's targets, not the photos: inside the skin between the brows and the chin,
away from the eyes, brows, nostrils, mouth and the face's outline, dark strokes narrower than
``width`` pixels are closed over (a grey-level morphological closing, then a 5x5 median) and
blended in through a soft mask. The student distilled from the cleaned pairs learns to leave
those strokes out.

Everything is in the aligned crop's pixels; landmarks are dlib's 68 points (iBUG 300-W).
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from ..errors import InputError
from ..face.landmarks68 import FaceJobReport, Landmarks68

__all__ = ["CleanReport", "clean_pairs", "remove_skin_strokes", "skin_mask"]

# Features whose lines are kept: landmark indices and how far around them (in eye distances).
_KEEP = ((range(36, 42), 0.28), (range(42, 48), 0.28),  # eyes, with lashes and liner
         (range(17, 22), 0.12), (range(22, 27), 0.12),  # brows
         (range(48, 60), 0.12),  # mouth
         (range(31, 36), 0.10))  # nostrils


def _disc(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def skin_mask(landmarks: np.ndarray, size: int, *, soften: float = 2.0) -> np.ndarray:
    """Where strokes are removed: ``(size, size)`` float32 in [0, 1] (1 = clean here).

    The convex hull of the jaw line and brows, shrunk by 0.12 eye distances so the face's
    outline stays, minus the features in ``_KEEP`` (each grown by its margin); the edge is
    blurred by ``soften`` pixels.
    """
    lm = np.asarray(landmarks, np.float64)
    if lm.shape != (68, 2):
        raise InputError(f"stroke cleanup needs 68 landmarks, got shape {lm.shape}")
    iod = float(np.linalg.norm(lm[36:42].mean(0) - lm[42:48].mean(0)))
    if iod < 1.0:
        raise InputError("degenerate landmarks (the eyes coincide)")
    face = np.zeros((size, size), np.uint8)
    hull = cv2.convexHull(np.concatenate([lm[0:17], lm[17:27]]).astype(np.float32))
    cv2.fillPoly(face, [np.round(hull).astype(np.int32)], 255)
    face = cv2.erode(face, _disc(max(1, round(0.12 * iod))))
    keep = np.zeros_like(face)
    for idx, grow in _KEEP:
        part = np.zeros_like(face)
        pts = lm[list(idx)].astype(np.float32)
        cv2.fillPoly(part, [np.round(cv2.convexHull(pts)).astype(np.int32)], 255)
        if len(idx) == 5 and idx.start in (17, 22):  # a brow is a curve, not an area
            cv2.polylines(part, [np.round(pts).astype(np.int32)], False, 255, 2)
        keep |= cv2.dilate(part, _disc(max(1, round(grow * iod))))
    hard = ((face > 0) & (keep == 0)).astype(np.float32)
    return cv2.GaussianBlur(hard, (0, 0), soften) if soften > 0 else hard


def remove_skin_strokes(target: np.ndarray, mask: np.ndarray, width: int = 7) -> np.ndarray:
    """Close dark strokes narrower than ``width`` px where ``mask`` is 1.

    Args:
        target: ``(H, W, 3)`` uint8 RGB drawing (a teacher's output).
        mask: ``(H, W)`` float32 in [0, 1], e.g. :func:`skin_mask`.
        width: diameter of the closing's disc in pixels (odd, at least 3).

    Returns:
        ``(H, W, 3)`` uint8: the target blended towards its closed copy by ``mask``.
    """
    if width < 3 or width % 2 == 0:
        raise InputError(f"stroke width must be an odd number of pixels >= 3, got {width}")
    closed = cv2.morphologyEx(target, cv2.MORPH_CLOSE, _disc(width // 2))
    closed = cv2.medianBlur(closed, 5)
    w = mask[..., None].astype(np.float32)
    out = target.astype(np.float32) * (1.0 - w) + closed.astype(np.float32) * w
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


CleanReport = FaceJobReport  # what clean_pairs did


def clean_pairs(pairs: str | os.PathLike[str], out: str | os.PathLike[str], *, width: int = 7,
                detector=None, progress: bool = True) -> CleanReport:
    """``pairs/{photo,style}`` -> ``out/{photo,style}`` with skin strokes removed from the styles.

    ``out/photo`` holds links to the original photos; ``out/style`` the cleaned targets (a
    target whose photo shows no face with 68 landmarks is copied unchanged and listed). Files
    already in ``out/style`` are kept, so a stopped run resumes; nothing in ``pairs`` changes.
    ``detector``: any callable ``rgb -> list[Face]`` (default: dlib).
    """
    from tqdm.auto import tqdm

    from ..io.images import list_images, load_image, save_image

    src = Path(pairs)
    photos = list_images(src / "photo") if (src / "photo").is_dir() else []
    if not photos:
        raise InputError(f"{src} holds no pairs (expected {src}/photo and {src}/style)")
    dst = Path(out)
    if dst.resolve() == src.resolve():
        raise InputError("--out is the pairs folder itself; write the cleaned pairs elsewhere")
    (dst / "photo").mkdir(parents=True, exist_ok=True)
    (dst / "style").mkdir(parents=True, exist_ok=True)
    report = CleanReport()
    find_landmarks = Landmarks68(detector)
    for photo in tqdm(photos, desc="cleaning pairs", unit="pair", disable=not progress):
        style = src / "style" / photo.name
        cleaned = dst / "style" / photo.name
        if cleaned.exists():
            report.skipped += 1
            continue
        if not style.is_file():
            raise InputError(f"{photo.name} has no target in {src / 'style'}")
        rgb, drawing = load_image(photo).rgb, load_image(style).rgb
        if rgb.shape[0] != rgb.shape[1]:
            raise InputError(f"{photo.name}: pairs must be square aligned crops, got {rgb.shape[1]}x{rgb.shape[0]}")
        if drawing.shape != rgb.shape:
            raise InputError(f"{photo.name}: photo {rgb.shape[:2]} and target {drawing.shape[:2]} differ in size")
        landmarks = find_landmarks(rgb)
        if landmarks is not None:
            drawing = remove_skin_strokes(drawing, skin_mask(landmarks, rgb.shape[0]), width)
        else:
            report.no_face.append(photo.stem)
        link = dst / "photo" / photo.name
        if not link.exists():
            link.symlink_to(photo.resolve())
        save_image(cleaned, drawing)
        report.written += 1
    return report
