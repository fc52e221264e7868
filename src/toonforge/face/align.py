"""FFHQ-style face alignment: a square crop, upright, eyes and mouth at fixed places.

The crop square is the quad of the FFHQ recipe (Karras et al., ``recreate_aligned_images``),
built from five points, so 68-point and 5-point landmarks give the same crop. The warp is
one affine (a similarity) done with OpenCV; ``matrix`` maps image pixels to crop pixels and
``inverse`` maps back, for pasting the stylized crop into the photo.

Coordinates: the centre of pixel ``(col, row)`` is at ``(x, y) = (col, row)``; the quad's
corners land on the crop's outer corners ``(-0.5, -0.5)`` and ``(size - 0.5, size - 0.5)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from toonforge.face.padding import fill_padding, wide_blur
from toonforge.face.types import five_points_f64
from toonforge.io.images import halve

__all__ = [
    "PAD_MODES",
    "AlignedFace",
    "align_face",
    "alignment_matrix",
    "ffhq_quad",
    "invert_affine",
    "warp_points",
]

PAD_MODES = ("smooth", "ffhq", "reflect", "replicate", "constant")
SUPERSAMPLE_FROM = 1.05  # photo pixels per crop pixel from which a crop is rendered at 2x and shrunk
_BORDERS = {
    "smooth": cv2.BORDER_REFLECT_101,
    "ffhq": cv2.BORDER_REFLECT_101,
    "reflect": cv2.BORDER_REFLECT_101,
    "replicate": cv2.BORDER_REPLICATE,
    "constant": cv2.BORDER_CONSTANT,
}


@dataclass
class AlignedFace:
    """An aligned face crop and the transforms that relate it to the photo.

    Attributes:
        crop: ``(size, size, 3)`` ``uint8`` RGB.
        matrix: ``(2, 3)`` float64 affine, image pixel -> crop pixel.
        inverse: ``(2, 3)`` float64 affine, crop pixel -> image pixel.
        landmarks_in_crop: ``(N, 2)`` float32, the input landmarks in crop pixels.
    """

    crop: np.ndarray
    matrix: np.ndarray
    inverse: np.ndarray
    landmarks_in_crop: np.ndarray


def ffhq_quad(landmarks: np.ndarray) -> np.ndarray:
    """The FFHQ crop quad of a face.

    Args:
        landmarks: ``(68, 2)`` or ``(5, 2)`` float pixel coordinates (see
            :func:`toonforge.face.types.five_points`).

    Returns:
        ``(4, 2)`` float64 corners in image pixels: top-left, bottom-left, bottom-right,
        top-right of the upright face square (the quad is always a square).
    """
    pts = five_points_f64(landmarks)
    eye_left, eye_right = pts[0], pts[1]
    eye_avg = (eye_left + eye_right) * 0.5
    eye_to_eye = eye_right - eye_left
    mouth_avg = (pts[3] + pts[4]) * 0.5
    eye_to_mouth = mouth_avg - eye_avg

    # Direction of the crop's x axis: the eye line, tilted by the eye-to-mouth line turned
    # 90 degrees, so both cues decide the roll.
    x = eye_to_eye - np.flipud(eye_to_mouth) * np.array([-1.0, 1.0])
    norm = float(np.hypot(*x))
    if not math.isfinite(norm) or norm < 1e-6:
        raise ValueError("degenerate landmarks: eyes and mouth do not define a face")
    x /= norm
    x *= max(float(np.hypot(*eye_to_eye)) * 2.0, float(np.hypot(*eye_to_mouth)) * 1.8)
    y = np.flipud(x) * np.array([-1.0, 1.0])
    c = eye_avg + eye_to_mouth * 0.1
    return np.stack([c - x - y, c - x + y, c + x + y, c + x - y])


def _to3(m: np.ndarray) -> np.ndarray:
    return np.vstack([np.asarray(m, dtype=np.float64), [0.0, 0.0, 1.0]])


def _scale3(sx: float, sy: float) -> np.ndarray:
    """Resizing by (sx, sy) in pixel-centre coordinates: v = (u + 0.5) * s - 0.5."""
    return np.array([[sx, 0.0, 0.5 * sx - 0.5], [0.0, sy, 0.5 * sy - 0.5], [0.0, 0.0, 1.0]])


def alignment_matrix(landmarks: np.ndarray, size: int) -> np.ndarray:
    """Affine ``(2, 3)`` float64 that maps image pixels to a ``size x size`` FFHQ crop.

    The quad of :func:`ffhq_quad` goes onto the crop's outer edges, upright.
    """
    quad = ffhq_quad(landmarks)
    lo, hi = -0.5, size - 0.5
    src = np.array([quad[0], quad[1], quad[3]])  # top-left, bottom-left, top-right
    dst = np.array([[lo, lo], [lo, hi], [hi, lo]])
    # Solve [x y 1] @ coeffs = dst for the 3x2 coefficient matrix.
    coeffs = np.linalg.solve(np.hstack([src, np.ones((3, 1))]), dst)
    return coeffs.T.copy()


def invert_affine(m: np.ndarray) -> np.ndarray:
    """Inverse of a ``(2, 3)`` affine, as ``(2, 3)`` float64."""
    m = np.asarray(m, dtype=np.float64)
    a_inv = np.linalg.inv(m[:, :2])
    return np.hstack([a_inv, -a_inv @ m[:, 2:3]])


def warp_points(points: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Apply a ``(2, 3)`` affine to ``(N, 2)`` points; returns ``(N, 2)`` float64."""
    p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    m = np.asarray(m, dtype=np.float64)
    return p @ m[:, :2].T + m[:, 2]


def align_face(rgb: np.ndarray, landmarks: np.ndarray, size: int, *,
               pad_mode: str = "smooth") -> AlignedFace:
    """Cut the FFHQ-aligned square of a face out of a photo.

    Args:
        rgb: ``(H, W, 3)`` ``uint8`` RGB photo.
        landmarks: ``(68, 2)`` or ``(5, 2)`` float pixel coordinates of one face.
        size: side of the output crop in pixels.
        pad_mode: how to fill the parts of the crop outside the photo: ``"smooth"`` (the
            photo's edge colours extended outward, no mirrored structure; see
            :mod:`toonforge.face.padding`), ``"ffhq"`` (mirrored
            content fading to a blurred copy and then to the median colour, as FFHQ does),
            ``"reflect"`` (mirror only), ``"replicate"`` (edge pixels), ``"constant"``
            (black).

    Returns:
        :class:`AlignedFace` with the ``(size, size, 3)`` ``uint8`` crop and both affines.
    """
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 \
            or rgb.shape[2] != 3:
        raise ValueError("rgb must be a (H, W, 3) uint8 array, got "
                         f"{getattr(rgb, 'dtype', type(rgb))} {getattr(rgb, 'shape', '')}")
    if pad_mode not in _BORDERS:
        raise ValueError(f"pad_mode must be one of {PAD_MODES}, got {pad_mode!r}")
    size = int(size)
    if size < 8:
        raise ValueError(f"size must be at least 8, got {size}")

    matrix = alignment_matrix(landmarks, size)
    quad = ffhq_quad(landmarks)
    ratio = float(np.hypot(*(quad[3] - quad[0]))) / size  # photo pixels per crop pixel
    # Shrinking: render at twice the size and average down (supersampling), after an
    # area pre-shrink of the photo when the face is much larger than the crop. A crop at
    # about the photo's own scale (a guided head's footprint, rounded to whole pixels) is
    # warped directly: supersampling a shrink by under 5 % changes nothing visible and would
    # cost four times the pixels.
    ss = 2 if ratio > SUPERSAMPLE_FROM else 1
    pre = ratio / ss if ratio / ss > 1.25 else 1.0

    # Work on the part of the photo under the quad only (plus a margin for interpolation).
    h, w = rgb.shape[:2]
    margin = math.ceil(3 * pre) + 2
    x0 = int(np.clip(math.floor(quad[:, 0].min()) - margin, 0, w - 1))
    y0 = int(np.clip(math.floor(quad[:, 1].min()) - margin, 0, h - 1))
    x1 = int(np.clip(math.ceil(quad[:, 0].max()) + margin + 1, x0 + 1, w))
    y1 = int(np.clip(math.ceil(quad[:, 1].max()) + margin + 1, y0 + 1, h))
    roi = rgb[y0:y1, x0:x1]
    roi_to_crop = _to3(matrix) @ np.array([[1.0, 0.0, x0], [0.0, 1.0, y0], [0.0, 0.0, 1.0]])
    if pre > 1.0:  # exact halvings (cheap), then an area resize by what is left if over 1.25
        times = int(math.floor(math.log2(pre)))
        if times:
            roi = halve(roi, times)
            roi_to_crop = roi_to_crop @ np.linalg.inv(_scale3(0.5 ** times, 0.5 ** times))
        rest = pre / 2 ** times
        if rest > 1.25:
            small = (max(1, round(roi.shape[1] / rest)), max(1, round(roi.shape[0] / rest)))
            roi_to_small = _scale3(small[0] / roi.shape[1], small[1] / roi.shape[0])
            roi = cv2.resize(roi, small, interpolation=cv2.INTER_AREA)
            roi_to_crop = roi_to_crop @ np.linalg.inv(roi_to_small)

    work = size * ss
    to_work = (_scale3(ss, ss) @ roi_to_crop)[:2]
    crop = cv2.warpAffine(roi, to_work, (work, work), flags=cv2.INTER_LINEAR,
                          borderMode=_BORDERS[pad_mode], borderValue=(0, 0, 0))
    if ss != 1:
        crop = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)

    # The crop square's corners in the photo: when all are inside, so is the whole crop
    # (no padding to fill, no need to warp an inside mask).
    corners = warp_points(np.array([[-0.5, -0.5], [size - 0.5, -0.5], [-0.5, size - 0.5],
                                    [size - 0.5, size - 0.5]]), invert_affine(matrix))
    within = bool((corners >= 0.5).all() and (corners[:, 0] <= w - 1.5).all() and (corners[:, 1] <= h - 1.5).all())
    if pad_mode in ("ffhq", "smooth") and not within:
        inside = cv2.warpAffine(np.ones(roi.shape[:2], np.float32), roi_to_crop[:2],
                                (size, size), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)
        valid = inside > 0.5
        if not valid.all():
            crop = _soften_padding(crop, valid) if pad_mode == "ffhq" else fill_padding(crop, valid)

    return AlignedFace(
        crop=crop,
        matrix=matrix,
        inverse=invert_affine(matrix),
        landmarks_in_crop=warp_points(landmarks, matrix).astype(np.float32),
    )


def _soften_padding(crop: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Fade the mirrored padding of a crop toward a blur, then toward the median colour.

    ``valid`` ``(s, s)`` bool marks crop pixels that came from inside the photo. The weight
    grows with the distance from the photo's edge, measured in crop pixels against a ramp
    of 0.3 crop sides (FFHQ pads by 0.3 quad sides); the blur also reaches a third of the
    ramp into the photo, so the seam itself is softened.
    """
    s = crop.shape[0]
    ramp = 0.3 * s
    outside_dist = cv2.distanceTransform((~valid).astype(np.uint8), cv2.DIST_L2, 5)
    inside_dist = cv2.distanceTransform(valid.astype(np.uint8), cv2.DIST_L2, 5)
    signed = (outside_dist - inside_dist) / ramp  # > 0 outside the photo
    blur_w = np.clip(1.0 + 3.0 * signed, 0.0, 1.0)[:, :, None]
    flat_w = np.clip(signed, 0.0, 1.0)[:, :, None]

    img = crop.astype(np.float32)
    blurred = wide_blur(img, sigma=max(0.02 * s, 0.5))
    img += (blurred - img) * blur_w
    source = crop[valid] if valid.any() else crop.reshape(-1, 3)
    median = np.median(source[:: max(1, len(source) // 20000)], axis=0).astype(np.float32)
    img += (median - img) * flat_w
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)
