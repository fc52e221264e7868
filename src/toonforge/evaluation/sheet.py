"""Contact sheets: a grid of images with column labels, for looking at styles side by side."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from ..io.images import resize_rgb, scaled_size

_BG = 255
_LABEL_H = 28


def fit_tile(rgb: np.ndarray, tile: int) -> np.ndarray:
    """Fit an (H, W, 3) uint8 image into a (tile, tile, 3) white square, keeping its aspect."""
    h, w = rgb.shape[:2]
    nw, nh = scaled_size(w, h, tile)
    small = resize_rgb(rgb, (nw, nh)) if (nw, nh) != (w, h) else rgb
    out = np.full((tile, tile, 3), _BG, np.uint8)
    y, x = (tile - nh) // 2, (tile - nw) // 2
    out[y:y + nh, x:x + nw] = small
    return out


def _label(text: str, width: int) -> np.ndarray:
    strip = np.full((_LABEL_H, width, 3), _BG, np.uint8)
    scale, thick = 0.5, 1
    # Shorten until it fits the column.
    while text and cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)[0][0] > width - 6:
        text = text[:-2] + "…" if len(text) > 2 else ""
    text = text.replace("…", "~")  # Hershey fonts have no ellipsis glyph
    tw = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)[0][0]
    cv2.putText(strip, text, ((width - tw) // 2, _LABEL_H - 9), cv2.FONT_HERSHEY_SIMPLEX, scale,
                (20, 20, 20), thick, cv2.LINE_AA)
    return strip


def contact_sheet(columns: Sequence[str], rows: Sequence[Sequence[np.ndarray | None]], *,
                  tile: int = 192, gap: int = 4) -> np.ndarray:
    """Lay out ``rows`` (each a list with one image per column) under the ``columns`` labels.

    Args:
        columns: column titles, drawn in a strip above the grid.
        rows: per row, one (H, W, 3) uint8 image or None (left blank) per column.
        tile: side of the square each image is fitted into.
        gap: white pixels between tiles.

    Returns:
        (28 + R*(tile+gap) + gap, C*(tile+gap) + gap, 3) uint8 sheet.
    """
    if not columns or not rows:
        raise ValueError("contact_sheet needs at least one column and one row")
    n = len(columns)
    if any(len(r) != n for r in rows):
        raise ValueError("every row needs one image per column")
    width = n * (tile + gap) + gap
    header = np.full((_LABEL_H, width, 3), _BG, np.uint8)
    for c, name in enumerate(columns):
        x = gap + c * (tile + gap)
        header[:, x:x + tile] = _label(name, tile)
    grid = np.full((len(rows) * (tile + gap) + gap, width, 3), _BG, np.uint8)
    for r, row in enumerate(rows):
        for c, im in enumerate(row):
            if im is None:
                continue
            y, x = gap + r * (tile + gap), gap + c * (tile + gap)
            grid[y:y + tile, x:x + tile] = fit_tile(im, tile)
    return np.concatenate([header, grid], axis=0)


def pick_evenly(count: int, k: int) -> list[int]:
    """``k`` indices spread evenly over ``range(count)`` (all of them when count <= k)."""
    if count <= k:
        return list(range(count))
    return sorted({round(i * (count - 1) / (k - 1)) for i in range(k)}) if k > 1 else [0]
