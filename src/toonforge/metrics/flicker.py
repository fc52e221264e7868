"""Temporal flicker of a stylized video relative to its input.

``MAD`` of a sequence = mean absolute difference between consecutive frames, over all pixels,
channels and frame pairs, on the 0-255 scale (float64). The score compares the output's MAD
with the input's: a ratio near 1 means the stylization adds no flicker of its own; above 1 it
does (a stylizer that smooths texture can legitimately score below 1).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from toonforge.errors import InputError

__all__ = ["FlickerScore", "mean_abs_frame_difference", "temporal_flicker"]


@dataclass(frozen=True)
class FlickerScore:
    """``output_mad`` and ``input_mad`` on the 0-255 scale; ``ratio = output_mad / input_mad``.

    ``ratio`` is ``1.0`` when both sequences are static (both MADs 0) and ``nan`` when only
    the input is static (the ratio is undefined; look at ``output_mad`` instead).
    """

    output_mad: float
    input_mad: float
    ratio: float


def mean_abs_frame_difference(frames: Sequence[np.ndarray], what: str = "frames") -> float:
    """Mean ``|f[t+1] - f[t]|`` over all pairs and pixels of ``frames``.

    Args:
        frames: >= 2 arrays of one shape (e.g. ``(H, W, 3)`` ``uint8``), values on 0-255.

    Returns:
        float64 MAD in [0, 255].

    Raises:
        InputError: fewer than 2 frames or frames of different shapes.
    """
    if len(frames) < 2:
        raise InputError(f"{what}: need at least 2 frames, got {len(frames)}")
    shape = np.shape(frames[0])
    total = 0.0
    prev = np.asarray(frames[0], dtype=np.float64)
    for t in range(1, len(frames)):
        cur = np.asarray(frames[t], dtype=np.float64)
        if cur.shape != shape:
            raise InputError(f"{what}: frame {t} has shape {cur.shape}, frame 0 has {shape}")
        total += float(np.abs(cur - prev).mean())
        prev = cur
    return total / (len(frames) - 1)


def temporal_flicker(frames_in: Sequence[np.ndarray], frames_out: Sequence[np.ndarray]) -> FlickerScore:
    """Flicker of ``frames_out`` (stylized) relative to ``frames_in`` (the source frames).

    Both sequences must have the same number of frames (>= 2), and the frames within each must
    share one shape; the output may have a different size from the input.

    Returns:
        :class:`FlickerScore` (see its docstring for the static-input cases).
    """
    if len(frames_in) != len(frames_out):
        raise InputError(f"frame counts differ: {len(frames_in)} input vs {len(frames_out)} output")
    in_mad = mean_abs_frame_difference(frames_in, "input frames")
    out_mad = mean_abs_frame_difference(frames_out, "output frames")
    if in_mad > 0.0:
        ratio = out_mad / in_mad
    else:
        ratio = 1.0 if out_mad == 0.0 else math.nan
    return FlickerScore(output_mad=out_mad, input_mad=in_mad, ratio=ratio)
