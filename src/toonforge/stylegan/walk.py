"""Latent walks for face videos: a code moved along an edit direction and back, or a loop through codes.

Every frame is a W+ code; the same codes and the same seeded noise maps go through each generator,
so the walk in a photo generator and its cartoon transfer stay frame-for-frame alike (the reference's
"face video from latents": a yaw or smile direction applied with growing steps). Easing is a half
cosine, so the walk starts and turns without a jerk and consecutive frames differ by little.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import numpy as np
import torch

from ..errors import InputError
from ..models.stylegan2 import Generator
from .editing import Direction, edit
from .latents import to_uint8


def _ease(t: float) -> float:
    """Half-cosine easing of t in [0, 1] (0 -> 0, 1 -> 1, zero slope at both ends)."""
    return 0.5 - 0.5 * math.cos(math.pi * t)


def direction_walk(ws: torch.Tensor, direction: Direction | torch.Tensor, step: float, frames: int,
                   layers: Sequence[int] | None = None) -> torch.Tensor:
    """Codes moving one W+ code out along ``direction`` by ``step`` and back.

    Args:
        ws: (1, num_ws, D) start code (an inverted face or a sample).
        direction: a (D,) or (num_ws, D) direction (unit norm, see :mod:`.editing`).
        step: the farthest move (signed); reached at the middle frame.
        frames: number of frames, >= 2; the first and the last are the start code.
        layers: move only these ws indices (e.g. the coarse ones for pose).

    Returns:
        (frames, num_ws, D): frame i is ``ws + step * s_i * direction`` with
        ``s_i = (1 - cos(2 pi i / (frames - 1))) / 2``.
    """
    if frames < 2:
        raise InputError(f"a walk needs at least 2 frames, got {frames}")
    if ws.ndim != 3 or ws.shape[0] != 1:
        raise InputError(f"a direction walk starts from one W+ code (1, num_ws, D), got {tuple(ws.shape)}")
    amounts = [step * _ease(2 * min(i, frames - 1 - i) / (frames - 1)) for i in range(frames)]
    return torch.cat([edit(ws, direction, a, layers=layers) for a in amounts])


def loop_walk(codes: torch.Tensor, frames: int) -> torch.Tensor:
    """Codes looping through K >= 2 W+ codes and back to the first (eased linear interpolation).

    codes: (K, num_ws, D). Returns (frames, num_ws, D); frame 0 is codes[0], and the codes are met
    at evenly spaced frames ``j * frames / K`` (rounded), so the video loops without a seam.
    """
    k = codes.shape[0]
    if k < 2:
        raise InputError("a walk between latents needs at least 2 codes (or give --direction)")
    if frames < k:
        raise InputError(f"{frames} frames cannot visit {k} codes; use --steps {k} or more")
    out = []
    for i in range(frames):
        pos = i * k / frames
        j = int(pos)
        t = _ease(pos - j)
        out.append(torch.lerp(codes[j], codes[(j + 1) % k], t))
    return torch.stack(out)


@torch.no_grad()
def render_walk(generators: Sequence[Generator], ws: torch.Tensor, *, size: int | None = None,
                noise_seed: int = 0, batch: int = 8) -> Iterator[np.ndarray]:
    """Yield one frame per code: the generators' images side by side, (size, size * len(generators), 3) uint8.

    ws: (F, num_ws, D) codes, fed as they are to every generator (same architecture), with one fixed
    set of noise maps (``make_noise(noise_seed)``) so that only the code changes between frames.
    size: side of each panel (default: the generator size).
    """
    if not generators:
        raise InputError("give at least one generator")
    noises = [G.make_noise(noise_seed) for G in generators]
    for start in range(0, ws.shape[0], batch):
        chunk = ws[start:start + batch]
        panels = []
        for G, noise in zip(generators, noises):
            images = G.synthesis(chunk.to(next(G.parameters()).device), noise=noise)
            panels.append(to_uint8(images, size))
        for row in zip(*panels):
            yield np.ascontiguousarray(np.concatenate(row, axis=1))
