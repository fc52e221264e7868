"""A second look at weak detections: each one scored again in a zoomed window of its own.

In a pyramid level scanned as large tiles, the smallest faces the level answers for (40 px
faces at ``--min-face 40``) are about 24 pixels of network input, where BlazeFace's score is
low and scatters: a real face may score 0.2 there and a patch of backdrop 0.3. Such weak
detections are not kept; instead each is cut out again in a square of ``ZOOM`` box widths
around it, resized to the model's input (the face is then about a third of the input, a size
the model is sure about), and kept only if that window finds a face on it with the whole-frame
score threshold. There are few weak detections per frame, and all their windows go through
the network in one batch, so the look costs a small part of the scan.

This module holds the geometry and the bookkeeping (which weak detections to look at, the
window of each, what the window must answer); the detector runs the network.
Boxes are ``(4,)`` ``x0, y0, x1, y1`` in image pixels (BlazeFace's boxes, not dlib-like ones);
detections are ``(box, keypoints (6, 2), score)`` tuples as :func:`weighted_nms` returns them.
"""

from __future__ import annotations

import numpy as np

from toonforge.face.types import box_iou
from toonforge.face.windows import Window

__all__ = ["ZOOM", "confirm", "look_candidates", "zoom_window"]

Detection = tuple[np.ndarray, np.ndarray, float]

# Window side in BlazeFace box widths: a box is ~1.1 face sides, so the face is ~35 % of the
# window (the full-range model finds faces from 10 to 60 % of its input).
ZOOM = 2.5


def _inside(points: np.ndarray, box: np.ndarray) -> np.ndarray:
    """(K,) bool: which of ``points`` (K, 2) lie inside ``box`` (4,)."""
    return (points[:, 0] >= box[0]) & (points[:, 0] <= box[2]) & (points[:, 1] >= box[1]) & (points[:, 1] <= box[3])


def _centres(boxes: np.ndarray) -> np.ndarray:
    return (boxes[:, :2] + boxes[:, 2:]) / 2


def look_candidates(weak: list[Detection], strong: list[Detection], limit: int) -> list[Detection]:
    """The weak detections worth a second look: those on no strong detection, best first.

    Args:
        weak: merged detections scored under the keep threshold (best first).
        strong: merged detections kept already.
        limit: at most this many are returned (the best scores), bounding the look's cost.

    Returns:
        Weak detections whose box neither overlaps a strong one (IoU > 0.2) nor has its centre
        inside one, nor holds a strong one's centre.
    """
    if not weak:
        return []
    if not strong:
        return weak[:limit]
    sboxes = np.stack([d[0] for d in strong])
    out = []
    for det in weak:
        box = det[0]
        if (box_iou(box[None], sboxes)[0] > 0.2).any():
            continue
        centre = _centres(box[None])[0]
        if ((sboxes[:, 0] <= centre[0]) & (centre[0] <= sboxes[:, 2])
                & (sboxes[:, 1] <= centre[1]) & (centre[1] <= sboxes[:, 3])).any():
            continue
        if _inside(_centres(sboxes), box).any():
            continue
        out.append(det)
        if len(out) >= limit:
            break
    return out


def zoom_window(box: np.ndarray, zoom: float = ZOOM) -> Window:
    """The square window of ``zoom`` box widths centred on ``box``; it answers for faces
    0.8-1.25x the box's face side (the detector's size filter adds its own slack)."""
    x0, y0, x1, y1 = (float(v) for v in box)
    width = max(x1 - x0, y1 - y0, 1.0)
    side = max(int(round(zoom * width)), 16)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    face = 0.89 * width  # the dlib-like face side of a BlazeFace box (blazeface.face_sides)
    return Window(int(round(cx - side / 2)), int(round(cy - side / 2)), side, 0.8 * face, 1.25 * face)


def confirm(candidate: Detection, seen: list[Detection], threshold: float) -> Detection | None:
    """What the zoomed window says about ``candidate``: its best detection there, or None.

    Args:
        candidate: the weak detection the window was placed on.
        seen: the window's merged detections (image pixels, best first).
        threshold: least score the window's detection needs (the whole-frame threshold).

    Returns:
        The best of ``seen`` scoring ``threshold`` or more whose centre lies inside the
        candidate's box (the same face, not a neighbour caught at the window's edge), with the
        zoomed view's box, keypoints and score; None when there is none.
    """
    for det in seen:
        if det[2] >= threshold and _inside(_centres(det[0][None]), candidate[0])[0]:
            return det
    return None
