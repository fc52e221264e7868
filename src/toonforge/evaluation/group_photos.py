"""Group photos with faces at known sizes and places, for measuring face detection.

:func:`compose_group` pastes portraits into a large frame, each scaled so its face has a
chosen side, at places that do not overlap, and returns where every face is; :func:`recall`
matches a detector's boxes to those faces. The face of each portrait (its box in the
portrait's own pixels) must be known beforehand: :func:`reference_box` finds it once, at
the portrait's native size, with a detector given.

Face sides and boxes follow dlib's convention (brows to chin, cheek to cheek), which the
BlazeFace backend reproduces from its keypoints, so both backends are judged alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from toonforge.face.types import box_iou

__all__ = ["GroupPhoto", "Portrait", "compose_group", "recall", "reference_box"]


@dataclass
class Portrait:
    """A source photo with exactly one face: ``rgb`` (H, W, 3) uint8 and ``box`` (4,) its face."""

    rgb: np.ndarray
    box: np.ndarray


@dataclass
class GroupPhoto:
    """``image`` (H, W, 3) uint8 and ``boxes`` (N, 4) float64 of its faces (pixels, x0 y0 x1 y1)."""

    image: np.ndarray
    boxes: np.ndarray

    @property
    def sides(self) -> np.ndarray:
        """(N,) face sides in pixels."""
        return self.boxes[:, 2] - self.boxes[:, 0]


def reference_box(rgb: np.ndarray, detector) -> np.ndarray | None:
    """The one face of a portrait, or None when the detector finds none or several."""
    faces = detector(rgb)
    return faces[0].box.astype(np.float64) if len(faces) == 1 else None


def _background(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """A soft, textured backdrop: a colour gradient with low-frequency blotches and grain."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    c0, c1 = rng.uniform(40, 200, 3), rng.uniform(40, 200, 3)
    t = (xx / w * 0.6 + yy / h * 0.4)[..., None]
    img = c0 * (1 - t) + c1 * t
    blotch = cv2.resize(rng.uniform(-30, 30, (9, 16, 3)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    grain = rng.normal(0, 4, (h, w, 1)).astype(np.float32)
    return np.clip(img + blotch + grain, 0, 255).astype(np.uint8)


def _paste(frame: np.ndarray, patch: np.ndarray, x0: int, y0: int) -> None:
    """Blend ``patch`` into ``frame`` at (x0, y0) through a mask feathered over its outer 12 %."""
    h, w = patch.shape[:2]
    fy, fx = max(1, int(0.12 * h)), max(1, int(0.12 * w))
    ramp_y = np.clip(np.minimum(np.arange(h), np.arange(h)[::-1]) / fy, 0, 1)
    ramp_x = np.clip(np.minimum(np.arange(w), np.arange(w)[::-1]) / fx, 0, 1)
    mask = (ramp_y[:, None] * ramp_x[None, :])[..., None]
    H, W = frame.shape[:2]
    xa, ya, xb, yb = max(x0, 0), max(y0, 0), min(x0 + w, W), min(y0 + h, H)
    if xa >= xb or ya >= yb:
        return
    region = frame[ya:yb, xa:xb].astype(np.float32)
    p = patch[ya - y0:yb - y0, xa - x0:xb - x0].astype(np.float32)
    m = mask[ya - y0:yb - y0, xa - x0:xb - x0]
    frame[ya:yb, xa:xb] = np.clip(region * (1 - m) + p * m + 0.5, 0, 255).astype(np.uint8)


def compose_group(portraits: Sequence[Portrait], sides: Sequence[float], size: tuple[int, int],
                  seed: int = 0, tries: int = 3000) -> GroupPhoto:
    """Paste ``portraits[i]`` so that its face is ``sides[i]`` pixels wide, at random free places.

    Args:
        portraits: one per face (reused in order if fewer than ``sides``).
        sides: face sides in pixels of the frame.
        size: ``(width, height)`` of the frame.
        seed: the backdrop and the places.
        tries: random places tried per face before giving up (ValueError: the faces do not fit).

    Returns:
        The frame and its faces' boxes, in the order of ``sides``. Each pasted portrait keeps a
        margin of 0.3 face sides around its face, and no two such areas overlap.
    """
    w, h = size
    rng = np.random.default_rng(seed)
    frame = _background(h, w, rng)
    taken: list[np.ndarray] = []
    boxes = []
    order = np.argsort(-np.asarray(sides, np.float64))  # place the big ones first
    placed: dict[int, np.ndarray] = {}
    for i in order:
        p = portraits[i % len(portraits)]
        side = float(sides[i])
        k = side / float(p.box[2] - p.box[0])
        patch = cv2.resize(p.rgb, (max(1, round(p.rgb.shape[1] * k)), max(1, round(p.rgb.shape[0] * k))),
                           interpolation=cv2.INTER_AREA if k < 1 else cv2.INTER_CUBIC)
        fb = p.box * k
        margin = 0.3 * side
        for _ in range(tries):
            fx = rng.uniform(margin - fb[0], w - margin - fb[2]) if w - margin - fb[2] > margin - fb[0] else None
            fy = rng.uniform(margin - fb[1], h - margin - fb[3]) if h - margin - fb[3] > margin - fb[1] else None
            if fx is None or fy is None:
                break
            area = np.array([fb[0] + fx - margin, fb[1] + fy - margin, fb[2] + fx + margin, fb[3] + fy + margin])
            if taken and box_iou(area[None], np.stack(taken)).max() > 0:
                continue
            taken.append(area)
            # The patch may carry some of its own backdrop: keep it within the free area.
            x0, y0 = int(round(fx)), int(round(fy))
            crop = np.array([area[0] - x0, area[1] - y0, area[2] - x0, area[3] - y0]).round().astype(int)
            crop = np.clip(crop, 0, [patch.shape[1], patch.shape[0]] * 2)
            _paste(frame, patch[crop[1]:crop[3], crop[0]:crop[2]], x0 + crop[0], y0 + crop[1])
            placed[int(i)] = fb + np.array([x0, y0, x0, y0], np.float64)
            break
        else:
            raise ValueError(f"could not place a {side:.0f} px face in a {w}x{h} frame")
        if int(i) not in placed:
            raise ValueError(f"a {side:.0f} px face does not fit in a {w}x{h} frame")
    boxes = np.stack([placed[i] for i in range(len(sides))])
    return GroupPhoto(frame, boxes)


def recall(truth: np.ndarray, found: np.ndarray, iou: float = 0.4) -> np.ndarray:
    """Which true faces were found: (N,) bool, a detection overlapping each by ``iou`` or more.

    Each detection is matched to at most one face (greedy on IoU).
    """
    truth = np.asarray(truth, np.float64).reshape(-1, 4)
    found = np.asarray(found, np.float64).reshape(-1, 4)
    hit = np.zeros(len(truth), bool)
    if not len(truth) or not len(found):
        return hit
    m = box_iou(truth, found)
    used = set()
    for flat in np.argsort(-m, axis=None):
        t, d = np.unravel_index(flat, m.shape)
        if m[t, d] < iou:
            break
        if hit[t] or d in used:
            continue
        hit[t], _ = True, used.add(int(d))
    return hit
