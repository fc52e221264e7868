"""Where to look for faces of every size: a pyramid of overlapping square windows.

A CNN detector with a fixed input side finds faces only within a band of sizes relative to
that input (BlazeFace: roughly a tenth to most of it). To find faces from ``min_face`` pixels
up to the whole frame, the frame is scanned at several window sides ``T``: the coarsest window
is the whole frame; each finer level shrinks ``T`` so that its band of face sizes overlaps the
band above it; the finest level is the first whose band reaches below ``min_face``. Windows of
one level overlap by the largest face that level is responsible for, so every face lies whole
inside at least one window of the level that sees it at a good size.

Coordinates are image pixels; a window is ``(x0, y0, side)``, and may run past the image's
right or bottom edge (the caller pads).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Window", "window_pyramid"]


@dataclass(frozen=True)
class Window:
    """One square window: top-left corner and side in image pixels, and the faces it serves.

    ``smallest`` / ``largest`` are the face sides (image pixels) this window's level is
    responsible for.
    """

    x0: int
    y0: int
    side: int
    smallest: float
    largest: float


def _starts(length: int, side: int, stride: int) -> list[int]:
    """Window starts covering ``[0, length)`` with ``side``-long windows at most ``stride`` apart."""
    if side >= length:
        return [0]
    n = math.ceil((length - side) / stride) + 1
    step = (length - side) / (n - 1)
    return [round(i * step) for i in range(n)]


def window_pyramid(height: int, width: int, min_face: float, *, band: tuple[float, float] = (0.12, 0.8),
                   below: float = 0.7) -> list[Window]:
    """The windows to scan, coarsest level first.

    Args:
        height, width: image size in pixels.
        min_face: smallest face side (pixels) to find; the finest level reaches down to
            ``below * min_face`` so that faces just under the minimum are seen (and can be
            reported as too small instead of vanishing).
        band: ``(lo, hi)``: the detector finds faces whose side is between ``lo`` and ``hi``
            times its window side.
        below: see ``min_face``.

    Returns:
        Windows of all levels; the first is the whole frame (a square of side
        ``max(height, width)``, padded by the caller).
    """
    lo, hi = band
    if not 0 < lo < hi <= 1.5:
        raise ValueError(f"band must be 0 < lo < hi, got {band}")
    if min_face <= 0:
        raise ValueError(f"min_face must be positive, got {min_face}")
    top = float(max(height, width))
    target = below * float(min_face)
    finest = max(target / lo, 16.0)
    # As few levels as the band allows, evenly spaced in log size from the frame to the finest.
    step = 0.85 * hi / lo  # consecutive bands overlap by ~15 %
    n = max(0, math.ceil(math.log(top / finest) / math.log(step) - 1e-9)) if top > finest else 0
    sides = [top] if n == 0 else [top * (finest / top) ** (i / n) for i in range(n + 1)]
    windows: list[Window] = []
    largest = top
    for side in sides:
        t = max(round(side), 1)
        smallest = lo * t
        overlap = min(largest, hi * t)  # the largest face this level must see whole
        stride = max(t - int(math.ceil(overlap)), max(t // 4, 1))
        for y0 in _starts(height, t, stride):
            for x0 in _starts(width, t, stride):
                windows.append(Window(x0, y0, t, smallest, largest))
        largest = smallest / 0.85
    return windows
