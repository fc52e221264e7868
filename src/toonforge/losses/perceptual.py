"""Perceptual (feature-matching) loss over a frozen MobileNetV2 trunk.

No VGG weights can be had on these machines; the ImageNet MobileNetV2 is the backbone.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from toonforge.errors import InputError
from toonforge.models.features.mobilenetv2 import MobileNetV2Features


class PerceptualLoss(nn.Module):
    """Weighted sum over layers of the mean L1 distance between feature maps.

    ``loss = sum_i w_i * mean(|phi_i(pred) - phi_i(target)|)``

    features: a module mapping (N, 3, H, W) in [-1, 1] to a list of feature maps; defaults to
    ``MobileNetV2Features()`` with ImageNet weights (needs the weights package). Tests pass a
    random-init ``MobileNetV2Features(pretrained=False)``.
    layer_weights: one weight per returned map; default all 1.0.
    Inputs pred, target: (N, 3, H, W) float32 in [-1, 1], same shape. Returns a scalar.
    The target branch runs without autograd when ``target`` does not require grad.
    The feature net is frozen; gradients flow to ``pred`` (and ``target`` if it requires grad).
    """

    def __init__(self, features: nn.Module | None = None,
                 layer_weights: Sequence[float] | None = None) -> None:
        super().__init__()
        self.features = features if features is not None else MobileNetV2Features()
        self.features.requires_grad_(False)
        self.features.eval()
        self.layer_weights: tuple[float, ...] | None = (
            tuple(float(w) for w in layer_weights) if layer_weights is not None else None)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if pred.shape != target.shape or pred.ndim != 4:
            raise InputError(f"PerceptualLoss: expected two equal (N, 3, H, W) tensors, got "
                             f"{tuple(pred.shape)} and {tuple(target.shape)}")
        feats_p = self.features(pred)
        if target.requires_grad:
            feats_t = self.features(target)
        else:
            with torch.no_grad():
                feats_t = self.features(target)
        weights = self.layer_weights or (1.0,) * len(feats_p)
        if len(weights) != len(feats_p):
            raise InputError(f"PerceptualLoss: {len(weights)} layer weights for "
                             f"{len(feats_p)} feature maps")
        total = pred.new_zeros(())
        for w, fp, ft in zip(weights, feats_p, feats_t):
            if w:
                total = total + w * (fp - ft).abs().mean()
        return total
