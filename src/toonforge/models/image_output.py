"""The image of a network's forward, whatever shape the forward returns."""

from __future__ import annotations

import torch

from ..errors import CheckpointError

__all__ = ["generator_output"]


def generator_output(out: object) -> torch.Tensor:
    """The image of a stage-2 generator's forward: a tensor (N, 3, S, S) in [-1, 1] as is, or the first
    element of a tuple / NamedTuple (U-GAT-IT's ``(out, cam_logit, heatmap)``; a field ``out`` wins)."""
    if isinstance(out, torch.Tensor):
        return out
    if isinstance(out, tuple) and hasattr(out, "_fields") and "out" in out._fields:
        return generator_output(out.out)
    if isinstance(out, (tuple, list)) and out:
        return generator_output(out[0])
    if isinstance(out, dict) and "out" in out:
        return generator_output(out["out"])
    raise CheckpointError(f"the generator returned {type(out).__name__}, not an image tensor")
