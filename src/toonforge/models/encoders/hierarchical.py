"""AgileGAN's hierarchical variational encoder network: images -> per-layer Gaussian codes (Z+).

The network only; training, encoding and inversion with a generator live in
:mod:`toonforge.stylegan.encoder`. A conv backbone builds a feature pyramid with a top-down path (as
in pSp): fine (size/4 px), medium (size/8 px) and coarse (size/16 px) maps. The ``num_ws`` codes are
split into three consecutive groups; the coarse map predicts the first group (pose, shape), the
medium one the middle, the fine one the last (colour, texture).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ...errors import InputError
from ..registry import register_model


def split_groups(num_ws: int) -> list[int]:
    """Sizes of the coarse / medium / fine groups of ws indices (as even as possible, extras first)."""
    return [num_ws // 3 + (1 if i < num_ws % 3 else 0) for i in range(3)]


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1), nn.LeakyReLU(0.2))


@register_model("hierarchical-encoder")
class HierarchicalEncoder(nn.Module):
    """(N, 3, H, W) images in [-1, 1] -> (mu, logvar), each (N, num_ws, style_dim).

    Args:
        size: working resolution (a power of two >= 16; inputs are resized to it).
        num_ws, style_dim: the generator's code layout.
        base: channels of the first level (default ``max(8, style_dim // 8)``), doubling per level up to
            ``style_dim``.
    """

    def __init__(self, size: int, num_ws: int, style_dim: int, base: int | None = None) -> None:
        super().__init__()
        if size < 16 or size & (size - 1) or num_ws < 3:
            raise ValueError(f"need a power-of-two size >= 16 and num_ws >= 3, got {size}, {num_ws}")
        base = base or max(8, style_dim // 8)
        self.size, self.num_ws, self.style_dim = size, num_ws, style_dim
        self.groups = split_groups(num_ws)
        widths = [min(style_dim, base * 2**k) for k in range(5)]  # at size, /2, /4, /8, /16
        self.stem = _conv(3, widths[0])
        self.down = nn.ModuleList(nn.Sequential(_conv(widths[k], widths[k + 1], 2), _conv(widths[k + 1], widths[k + 1]))
                                  for k in range(4))
        top = widths[4]
        self.lateral = nn.ModuleList([nn.Conv2d(widths[2], top, 1), nn.Conv2d(widths[3], top, 1)])  # fine, medium
        self.heads = nn.ModuleList(
            nn.Sequential(_conv(top, top), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(top, 2 * n * style_dim))
            for n in self.groups
        )
        for head in self.heads:  # start with small means and small variances
            nn.init.normal_(head[-1].weight, std=0.01)
            with torch.no_grad():
                head[-1].bias.zero_()
                head[-1].bias.view(2, -1)[1].fill_(-4.0)

    def pyramid(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Coarse (size/16), medium (size/8) and fine (size/4) maps, ``widths[4]`` channels each."""
        feats, h = [], self.stem(x)
        for block in self.down:
            h = block(h)
            feats.append(h)
        coarse = feats[3]
        medium = self.lateral[1](feats[2]) + F.interpolate(coarse, scale_factor=2.0, mode="nearest")
        fine = self.lateral[0](feats[1]) + F.interpolate(medium, scale_factor=2.0, mode="nearest")
        return [coarse, medium, fine]

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if images.ndim != 4 or images.shape[1] != 3:
            raise InputError(f"the encoder takes images (N, 3, H, W), got {tuple(images.shape)}")
        if images.shape[-2:] != (self.size, self.size):
            images = F.interpolate(images, size=(self.size, self.size), mode="bilinear", align_corners=False,
                                   antialias=images.shape[-1] > self.size)
        mus, logvars = [], []
        for feat, head, n in zip(self.pyramid(images), self.heads, self.groups):
            out = head(feat).view(-1, 2, n, self.style_dim)
            mus.append(out[:, 0])
            logvars.append(out[:, 1])
        return torch.cat(mus, 1), torch.cat(logvars, 1).clamp(-12, 6)
