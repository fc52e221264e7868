"""Class activation map (CAM) attention, as in U-GAT-IT's generator and discriminators.

An auxiliary classifier looks at globally average- and max-pooled features; each pooled
vector gets its own bias-free linear classifier of shape (1, C), whose weights then re-scale
the feature map channel by channel (so the channels that decide the class get emphasised).
The two re-scaled maps (2C channels) are fused back to C channels by a 1x1 conv.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

__all__ = ["CAM"]


class CAM(nn.Module):
    """CAM attention block.

    forward: x (N, C, h, w) -> (features (N, C, h, w), cam_logit (N, 2), heatmap (N, 1, h, w)),
    where ``cam_logit`` holds the [average-pool, max-pool] classifier logits and ``heatmap``
    is the channel sum of the fused features.

    spectral: spectral-normalise the two classifiers (discriminators); negative_slope: 0 gives
    ReLU after the fusion (generator), 0.2 LeakyReLU (discriminator).
    """

    def __init__(self, channels: int, spectral: bool = False, negative_slope: float = 0.0) -> None:
        super().__init__()
        wrap = spectral_norm if spectral else (lambda m: m)
        self.gap_fc = wrap(nn.Linear(channels, 1, bias=False))
        self.gmp_fc = wrap(nn.Linear(channels, 1, bias=False))
        self.fuse = nn.Conv2d(2 * channels, channels, 1, 1, 0, bias=True)
        self.negative_slope = float(negative_slope)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        w_avg, w_max = self.gap_fc.weight, self.gmp_fc.weight  # (1, C) each, normalised if SN
        logit_avg = F.linear(x.mean(dim=(2, 3)), w_avg)
        logit_max = F.linear(x.amax(dim=(2, 3)), w_max)
        scaled = torch.cat([x * w_avg[:, :, None, None], x * w_max[:, :, None, None]], dim=1)
        y = F.leaky_relu(self.fuse(scaled), self.negative_slope)
        return y, torch.cat([logit_avg, logit_max], dim=1), y.sum(dim=1, keepdim=True)
