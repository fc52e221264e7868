"""Ink strokes on smooth skin: where they are (from 68 landmarks) and how to close them over.

A texture translator (DCT-Net, and the students distilled from it) draws the photo's shading
as ink: smile lines, cheek shadows and the nose bridge come out as dark strokes, which ages
faces; anime skin is flat. Inside the skin between the brows and the chin, away from the eyes,
brows, nostrils, mouth and the face's outline (:func:`skin_mask`), dark strokes narrower than
``width`` pixels are closed over (:func:`remove_skin_strokes`: a grey-level morphological
closing, then a 5x5 median, blended in through the soft mask).

Two users: ``training.stroke_cleanup`` cleans a teacher's pair targets before distillation, and
a style whose config sets ``"clean_skin"`` cleans each drawn face crop in the stylizer
(:func:`clean_drawn_face`). The stylizer keeps the lines the photo itself has (:func:`photo_lines`:
glasses frames, stray hairs), so only the ink the network added to smooth skin is closed; without
that, the lower rim of glasses, which crosses the cheek, was erased (docs/anime/README.md, step
14). Everything is in aligned-crop pixels; landmarks are dlib's 68 points (iBUG 300-W).
"""

from __future__ import annotations

import cv2
import numpy as np

from ..errors import InputError

__all__ = ["CLEAN_SKIN_WIDTHS", "LINE_CONTRAST", "check_clean_skin", "clean_drawn_face", "photo_lines",
           "remove_skin_strokes", "skin_mask", "stroke_share"]

CLEAN_SKIN_WIDTHS = (3, 15)  # allowed stroke widths (odd) for a style's "clean_skin"
LINE_CONTRAST = 40  # grey levels below the black-hat's closing that make a pixel part of a thin dark line


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


def check_clean_skin(width: object, where: str = "clean_skin") -> int:
    """``width`` as an odd integer in :data:`CLEAN_SKIN_WIDTHS`, or a one-line InputError."""
    lo, hi = CLEAN_SKIN_WIDTHS
    if isinstance(width, bool) or not isinstance(width, int) or not lo <= width <= hi or width % 2 == 0:
        raise InputError(f"bad {where}: expected an odd number of pixels in [{lo}, {hi}], got {width!r}")
    return width


def _thin_dark_lines(grey: np.ndarray, disc: int, contrast: int) -> np.ndarray:
    """``(H, W)`` bool: pixels more than ``contrast`` darker than the grey closing by a ``disc`` px
    disc (a black-hat transform): lines narrower than the disc, not dark areas."""
    return cv2.morphologyEx(grey, cv2.MORPH_BLACKHAT, _disc(disc // 2)) > contrast


def photo_lines(photo: np.ndarray, width: int) -> np.ndarray:
    """Where the photo itself has thin dark lines that a stroke cleanup of ``width`` px would close.

    Args:
        photo: ``(S, S, 3)`` uint8 RGB, the aligned photo crop the drawing was made from.
        width: the cleanup's stroke width in pixels (odd).

    Returns:
        ``(S, S)`` float32 in {0, 1}: lines darker than :data:`LINE_CONTRAST` grey levels against
        their surroundings, grown by 2 px at 256 px (the drawn line need not sit on the same pixels).
    """
    lines = _thin_dark_lines(cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY), width, LINE_CONTRAST).astype(np.uint8)
    return cv2.dilate(lines, _disc(max(1, round(2 * photo.shape[0] / 256)))).astype(np.float32)


def clean_drawn_face(drawing: np.ndarray, photo: np.ndarray, landmarks: np.ndarray, width: int) -> np.ndarray:
    """Close the ink strokes on the skin of one drawn aligned face crop, keeping the photo's own lines.

    Args:
        drawing: ``(S, S, 3)`` uint8 RGB, the style network's drawing of the aligned face.
        photo: ``(S, S, 3)`` uint8 RGB, the aligned photo crop it was drawn from; its thin dark
            lines (:func:`photo_lines`: glasses, hairs) are left as drawn.
        landmarks: the face's landmarks in crop pixels; with fewer than 68 points (a 5-point
            detector) there is no skin mask and the drawing is returned as it is.
        width: the widest stroke closed, in pixels (odd).

    Returns:
        ``(S, S, 3)`` uint8.
    """
    if np.asarray(landmarks).shape != (68, 2):
        return drawing
    size = drawing.shape[0]
    # The mask's 2 px soft edge was set on 256 px crops: keep its share of the face at any size.
    mask = skin_mask(landmarks, size, soften=2.0 * size / 256) * (1.0 - photo_lines(photo, width))
    return remove_skin_strokes(drawing, mask, width)


def stroke_share(drawing: np.ndarray, mask: np.ndarray, *, contrast: int = LINE_CONTRAST, disc: int = 11) -> float:
    """Share of the pixels in ``mask`` that are drawn as thin dark strokes.

    A pixel is a stroke when it is more than ``contrast`` grey levels darker than the drawing's
    grey closing by a ``disc`` px disc (a black-hat transform): lines narrower than the disc
    count, dark skin or a broad shadow does not.

    Args:
        drawing: ``(S, S, 3)`` uint8 RGB.
        mask: ``(S, S)`` bool, e.g. ``skin_mask(...) > 0.5``.

    Returns:
        A share in [0, 1] (0 for an empty mask).
    """
    if not mask.any():
        return 0.0
    return float(_thin_dark_lines(cv2.cvtColor(drawing, cv2.COLOR_RGB2GRAY), disc, contrast)[mask].mean())
