"""The ResNet generator of CycleGAN / Johnson et al. (c7s1-64, d128, d256, R256 x n, u128,
u64, c7s1-3).

Instance norm without affine parameters, reflect padding for the 7x7 and residual convs, and
biases on every conv, as in the reference implementation: with 64 base channels and 9 blocks
it has exactly 11,378,179 parameters, the published count.
"""

from __future__ import annotations

import torch
from torch import nn

from ...errors import InputError
from ..registry import register_model


def _norm_act(c: int) -> list[nn.Module]:
    return [nn.InstanceNorm2d(c, affine=False), nn.ReLU(inplace=True)]


class _ResidualBlock(nn.Module):
    """x + (reflect-pad, 3x3 conv, IN, ReLU, reflect-pad, 3x3 conv, IN)(x); (N, C, H, W)."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3), *_norm_act(c),
            nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3), nn.InstanceNorm2d(c, affine=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


@register_model("resnet_generator")
class ResnetGenerator(nn.Module):
    """x (N, in_channels, H, W) in [-1, 1], H and W multiples of 4 -> (N, out_channels, H, W)
    in [-1, 1] (tanh).

    Args: in_channels, out_channels; base_channels (64 in the paper); n_blocks residual blocks
    at 4 * base_channels and 1/4 resolution (9 for 256 px, 6 for 128 px in the paper).
    """

    stride = 4

    def __init__(self, in_channels: int = 3, out_channels: int = 3, base_channels: int = 64,
                 n_blocks: int = 9) -> None:
        super().__init__()
        if min(in_channels, out_channels, base_channels) < 1 or n_blocks < 0:
            raise InputError(f"ResnetGenerator: bad sizes in={in_channels} out={out_channels} "
                             f"base={base_channels} blocks={n_blocks}")
        c = base_channels
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(in_channels, c, 7), *_norm_act(c)]
        for mult in (1, 2):  # two stride-2 downsamplings
            layers += [nn.Conv2d(c * mult, c * mult * 2, 3, stride=2, padding=1), *_norm_act(c * mult * 2)]
        layers += [_ResidualBlock(4 * c) for _ in range(n_blocks)]
        for mult in (4, 2):  # two fractionally strided upsamplings
            layers += [nn.ConvTranspose2d(c * mult, c * mult // 2, 3, stride=2, padding=1, output_padding=1),
                       *_norm_act(c * mult // 2)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(c, out_channels, 7), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c_in = self.config["in_channels"]
        if x.ndim != 4 or x.shape[1] != c_in or x.shape[2] % 4 or x.shape[3] % 4:
            raise InputError(f"ResnetGenerator expects (N, {c_in}, H, W) with H, W multiples of 4, "
                             f"got {tuple(x.shape)}")
        return self.net(x)
