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


def total_variation(x: torch.Tensor, power: int = 1) -> torch.Tensor:
    """Total variation of (N, C, H, W): the mean ``|difference| ** power`` between vertically
    adjacent pixels plus the same between horizontally adjacent ones; a scalar, 0 for a constant
    image (or a 1x1 one). ``power`` 1 (absolute, used on blend masks) or 2 (squared, DCT-Net's
    smoothness term on the generator's output)."""
    if x.ndim != 4:
        raise InputError(f"total_variation takes (N, C, H, W), got {tuple(x.shape)}")
    if power not in (1, 2):
        raise InputError(f"total_variation power must be 1 or 2, got {power}")
    dy = (x[:, :, 1:, :] - x[:, :, :-1, :]).abs().pow(power).mean() if x.shape[2] > 1 else x.new_zeros(())
    dx = (x[:, :, :, 1:] - x[:, :, :, :-1]).abs().pow(power).mean() if x.shape[3] > 1 else x.new_zeros(())
    return dy + dx
