"""Pixel-space reconstruction losses."""

from __future__ import annotations

import torch

from toonforge.errors import InputError


def l1_loss(pred: torch.Tensor, target: torch.Tensor,
            mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean absolute error, optionally restricted to a soft mask.

    pred, target: (N, C, H, W) float, any range (usually [-1, 1]), same shape.
    mask: None, or (N, 1, H, W) / (N, C, H, W) float in [0, 1] (broadcast over channels);
    the loss is then ``sum(mask * |pred - target|) / sum(mask expanded to C)``, i.e. the mean
    over the masked pixels (0 when the mask is empty).
    Returns a scalar tensor (differentiable w.r.t. pred and target).
    """
    if pred.shape != target.shape:
        raise InputError(f"l1_loss: shapes differ: {tuple(pred.shape)} vs {tuple(target.shape)}")
    diff = (pred - target).abs()
    if mask is None:
        return diff.mean()
    if mask.ndim != diff.ndim:
        raise InputError(f"l1_loss: mask must have {diff.ndim} dims, got {tuple(mask.shape)}")
    mask = mask.to(diff.dtype).expand_as(diff)
    return (diff * mask).sum() / mask.sum().clamp_min(1e-8)
