"""Style mixing: swap per-layer codes between two W+ latents.

A W+ code has one style vector per synthesis input (``num_ws = 2 * log2(size) - 2`` of them, index 0
at 4 px up to the last RGB layer at full size; see :meth:`Generator.layer_resolutions`). Taking
indices from a second latent transfers what those layers control: low indices pose and shape, middle
ones facial features, high ones colour and micro texture.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..errors import InputError


def parse_layers(text: str, num_ws: int | None = None) -> list[int]:
    """``"5-8"`` -> ``[5, 6, 7, 8]``; ``"0,2,4-5"`` -> ``[0, 2, 4, 5]`` (0-based ws indices, ranges
    inclusive, sorted, without repeats). With ``num_ws`` each index must lie in ``0..num_ws - 1``."""
    out: set[int] = set()
    try:
        for part in str(text).split(","):
            part = part.strip()
            if "-" in part:
                lo, hi = (int(p) for p in part.split("-", 1))
                if hi < lo:
                    raise ValueError
                out.update(range(lo, hi + 1))
            else:
                out.add(int(part))
    except ValueError:
        raise InputError(f"layers must look like '5-8' or '0,2,4-6' (0-based indices), got {text!r}") from None
    if not out or min(out) < 0:
        raise InputError(f"layers must be non-negative indices, got {text!r}")
    if num_ws is not None and max(out) >= num_ws:
        raise InputError(f"layer {max(out)} is out of range: this generator has layers 0..{num_ws - 1}")
    return sorted(out)


def mix_codes(w1: torch.Tensor, w2: torch.Tensor, layers: Sequence[int]) -> torch.Tensor:
    """A copy of ``w1`` whose codes at ws indices ``layers`` come from ``w2``.

    Args:
        w1, w2: W+ codes (N, num_ws, D); ``w2`` may also be (1, num_ws, D) (one donor for all).
        layers: ws indices in ``0..num_ws - 1``.

    Returns:
        (N, num_ws, D), same dtype and device as ``w1``.
    """
    if w1.ndim != 3 or w2.ndim != 3 or w1.shape[1:] != w2.shape[1:] or w2.shape[0] not in (1, w1.shape[0]):
        raise ValueError(f"mix_codes needs W+ codes (N, L, D) of one shape, got {tuple(w1.shape)}, {tuple(w2.shape)}")
    idx = list(layers)
    if any(not 0 <= i < w1.shape[1] for i in idx):
        raise ValueError(f"layers must lie in 0..{w1.shape[1] - 1}, got {idx}")
    out = w1.clone()
    out[:, idx] = w2[:, idx].to(out).expand(w1.shape[0], -1, -1)
    return out
