"""DCT-Net's texture translator: the U-Net generator of White-box Cartoonization.

Used as a stage-2 model and as the speed reference in ``benchmarks/``. With the default
32 base channels and 4 residual blocks it has about 1.47M parameters. Leaky ReLU (0.2)
throughout, bilinear upsampling, additive skips, no normalization, linear output clipped by
tanh so its range matches the rest of the project.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..registry import register_model


def _conv(c_in: int, c_out: int, k: int = 3, s: int = 1) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, k, s, k // 2)


class _ResBlock(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv1 = _conv(c, c)
        self.conv2 = _conv(c, c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.leaky_relu(self.conv1(x), 0.2))


@register_model("texture_unet")
class TextureUNet(nn.Module):
    """x (N, 3, H, W) in [-1, 1], H and W multiples of 4 -> (N, 3, H, W) in [-1, 1]."""

    stride = 4

    def __init__(self, channels: int = 32, num_blocks: int = 4) -> None:
        super().__init__()
        c = channels
        self.in0 = _conv(3, c, 7)
        self.down1a, self.down1b = _conv(c, c, 3, 2), _conv(c, 2 * c)
        self.down2a, self.down2b = _conv(2 * c, 2 * c, 3, 2), _conv(2 * c, 4 * c)
        self.blocks = nn.Sequential(*[_ResBlock(4 * c) for _ in range(num_blocks)])
        self.mid = _conv(4 * c, 2 * c)
        self.up1a, self.up1b = _conv(2 * c, 2 * c), _conv(2 * c, c)
        self.up2a, self.out = _conv(c, c), _conv(c, 3, 7)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        act = lambda t: F.leaky_relu(t, 0.2)  # noqa: E731
        x0 = act(self.in0(x))
        x1 = act(self.down1b(act(self.down1a(x0))))
        x2 = act(self.down2b(act(self.down2a(x1))))
        x2 = act(self.mid(self.blocks(x2)))
        x3 = F.interpolate(x2, scale_factor=2.0, mode="bilinear", align_corners=False)
        x3 = act(self.up1b(act(self.up1a(x3 + x1))))
        x4 = F.interpolate(x3, scale_factor=2.0, mode="bilinear", align_corners=False)
        x4 = act(self.up2a(x4 + x0))
        return torch.tanh(self.out(x4))
