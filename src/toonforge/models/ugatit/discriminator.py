"""U-GAT-IT discriminator with CAM attention; the global (7 layers) and local (5 layers) ones.

Layers for ``base_channels=C`` and ``n_layers=L`` (every conv 4x4, reflect-padded by 1,
spectral-normalised, LeakyReLU 0.2):
* one stride-2 conv (3 -> C) and ``L - 3`` more stride-2 convs doubling the width;
* one stride-1 conv doubling the width again, to ``C * 2**(L - 2)`` channels;
* CAM attention (spectral-normalised classifiers, LeakyReLU after the 1x1 fusion);
* a stride-1 conv to one channel of patch logits.
The receptive field grows with L: L=7 judges the whole 256 px face ("global"), L=5 patches of
about 70 px ("local"). The input side must be at least ``3 * 2**(L - 2)``.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from ..registry import register_model
from .cam import CAM

__all__ = ["UGATITDiscriminator", "min_input_size"]


def min_input_size(n_layers: int) -> int:
    """Smallest square input side a discriminator with ``n_layers`` accepts."""
    return 3 * 2 ** (n_layers - 2)


def _sn_conv(c_in: int, c_out: int, stride: int, bias: bool = True) -> list[nn.Module]:
    return [nn.ReflectionPad2d(1), spectral_norm(nn.Conv2d(c_in, c_out, 4, stride, 0, bias=bias))]


@register_model("ugatit_discriminator")
class UGATITDiscriminator(nn.Module):
    """Patch discriminator with CAM.

    forward: x (N, in_channels, H, W) in [-1, 1], H, W >= ``min_input_size(n_layers)``
    -> (logit (N, 1, h, w), cam_logit (N, 2), heatmap (N, 1, h + 1, w + 1)); all unbounded
    logits (LSGAN targets 1 for real, 0 for fake).
    """

    def __init__(self, in_channels: int = 3, base_channels: int = 64, n_layers: int = 7) -> None:
        super().__init__()
        if n_layers < 3 or base_channels < 1:
            raise ValueError(f"need n_layers >= 3 and base_channels >= 1, got {n_layers}, {base_channels}")
        c = base_channels
        layers: list[nn.Module] = [*_sn_conv(in_channels, c, 2), nn.LeakyReLU(0.2, True)]
        for _ in range(n_layers - 3):
            layers += [*_sn_conv(c, 2 * c, 2), nn.LeakyReLU(0.2, True)]
            c *= 2
        layers += [*_sn_conv(c, 2 * c, 1), nn.LeakyReLU(0.2, True)]
        c *= 2
        self.features = nn.Sequential(*layers)
        self.cam = CAM(c, spectral=True, negative_slope=0.2)
        self.head = nn.Sequential(*_sn_conv(c, 1, 1, bias=False))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        n_layers = self.config["n_layers"]
        if x.ndim != 4 or min(x.shape[2:]) < min_input_size(n_layers):
            raise ValueError(f"expected (N, C, H, W) with H, W >= {min_input_size(n_layers)} for "
                             f"n_layers={n_layers}, got {tuple(x.shape)}")
        h, cam_logit, heatmap = self.cam(self.features(x))
        return self.head(h), cam_logit, heatmap
