"""The StyleGAN2 residual discriminator with minibatch standard deviation, rosinality key layout.

Keys: ``convs.0`` is the 1x1 fromRGB layer (``convs.0.0.weight``, ``convs.0.1.bias``); ``convs.{i}``
(i >= 1) are residual blocks halving the resolution (``conv1.0.weight``, ``conv1.1.bias``,
``conv2.0.kernel`` (blur), ``conv2.1.weight``, ``conv2.2.bias``, ``skip.0.kernel``,
``skip.1.weight``); then ``final_conv`` and ``final_linear.{0,1}``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from ..registry import register_model
from .generator import _check_size, channel_table
from .layers import EqualConv2d, EqualLinear, clamp_activations
from .ops import Blur, FusedLeakyReLU, blur_pad


class ConvLayer(nn.Sequential):
    """[Blur] -> equalized conv (stride 2 when downsampling) -> [bias + leaky ReLU].

    (N, in, H, W) -> (N, out, H, W), or (N, out, H/2, W/2) with ``downsample``. With ``activate`` the
    bias lives in the activation (index after the conv), as in the public checkpoints. ``conv_clamp``
    (None: off) clamps the output to [-conv_clamp, conv_clamp] as NVlabs' Conv2dLayer does.
    """

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, downsample: bool = False,
        blur_kernel: Sequence[float] = (1, 3, 3, 1), bias: bool = True, activate: bool = True,
        conv_clamp: float | None = None,
    ) -> None:
        layers: list[nn.Module] = []
        if downsample:
            layers.append(Blur(blur_kernel, blur_pad(len(blur_kernel), kernel_size, 2, up=False)))
            stride, padding = 2, 0
        else:
            stride, padding = 1, kernel_size // 2
        layers.append(
            EqualConv2d(in_channels, out_channels, kernel_size, stride, padding, bias=bias and not activate)
        )
        if activate:
            layers.append(FusedLeakyReLU(out_channels, bias=bias))
        super().__init__(*layers)
        self.conv_clamp = conv_clamp

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return clamp_activations(super().forward(x), self.conv_clamp)


class ResBlock(nn.Module):
    """Two 3x3 convs (the second downsamples) plus a 1x1 downsampling skip, summed and scaled by 1/sqrt(2).

    (N, in, H, W) -> (N, out, H/2, W/2).
    """

    def __init__(
        self, in_channels: int, out_channels: int, blur_kernel: Sequence[float] = (1, 3, 3, 1),
        conv_clamp: float | None = None,
    ) -> None:
        super().__init__()
        self.conv1 = ConvLayer(in_channels, in_channels, 3, blur_kernel=blur_kernel, conv_clamp=conv_clamp)
        self.conv2 = ConvLayer(in_channels, out_channels, 3, downsample=True, blur_kernel=blur_kernel,
                               conv_clamp=conv_clamp)
        self.skip = ConvLayer(
            in_channels, out_channels, 1, downsample=True, blur_kernel=blur_kernel, bias=False, activate=False,
            conv_clamp=conv_clamp,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.conv2(self.conv1(x)) + self.skip(x)) * (1.0 / math.sqrt(2.0))


def minibatch_stddev(x: torch.Tensor, group_size: int | None, num_features: int = 1) -> torch.Tensor:
    """Append ``num_features`` channels holding the feature std-dev within groups of samples.

    x: (N, C, H, W) -> (N, C + num_features, H, W). Sample n belongs to group ``n % (N // G)``, as in
    the paper's code. G is the largest divisor of N not above ``group_size`` (the reference code needs
    N divisible by G; a batch of 6 with group 4 uses G = 3 here, a prime batch above 4 uses G = 1).
    ``group_size`` None (or 0) means one group of the whole batch, as NVlabs' ``mbstd_group_size=None``.
    """
    n, c, h, w = x.shape
    group_size = n if not group_size else group_size
    g = next(d for d in range(min(group_size, n), 0, -1) if n % d == 0)
    y = x.reshape(g, -1, num_features, c // num_features, h, w)
    y = torch.sqrt(y.var(dim=0, unbiased=False) + 1e-8)  # (N/G, F, C/F, H, W)
    y = y.mean(dim=(2, 3, 4)).reshape(-1, num_features, 1, 1)  # (N/G, F, 1, 1)
    y = y.repeat(g, 1, h, w)
    return torch.cat([x, y], dim=1)


@register_model("stylegan2_discriminator")
class Discriminator(nn.Module):
    """StyleGAN2 residual discriminator: image (N, 3, size, size) in [-1, 1] -> logits (N, 1).

    ``stddev_group``: minibatch-stddev group size (4; NVlabs' paper256/512 configs use 8; None: the
    whole batch). ``conv_clamp`` (None: off) clamps every conv's output as NVlabs' snapshots expect.
    """

    def __init__(
        self, size: int, channel_multiplier: int = 2, channel_max: int = 512,
        blur_kernel: Sequence[float] = (1, 3, 3, 1), stddev_group: int | None = 4, conv_clamp: float | None = None,
    ) -> None:
        super().__init__()
        log_size = _check_size(size)
        clamp = None if conv_clamp is None else float(conv_clamp)
        self.size = size
        self.channels = ch = channel_table(size, channel_multiplier, channel_max)
        blocks: list[nn.Module] = [ConvLayer(3, ch[size], 1, conv_clamp=clamp)]
        in_ch = ch[size]
        for log_res in range(log_size, 2, -1):
            out_ch = ch[2 ** (log_res - 1)]
            blocks.append(ResBlock(in_ch, out_ch, blur_kernel, conv_clamp=clamp))
            in_ch = out_ch
        self.convs = nn.Sequential(*blocks)
        self.stddev_group = stddev_group
        self.stddev_feat = 1
        self.final_conv = ConvLayer(in_ch + self.stddev_feat, ch[4], 3, conv_clamp=clamp)
        self.final_linear = nn.Sequential(
            EqualLinear(ch[4] * 4 * 4, ch[4], activation=True),
            EqualLinear(ch[4], 1),
        )

    def blocks_from_input(self) -> list[nn.Module]:
        """The blocks in input order: fromRGB, the residual blocks (size -> 4 px), then the epilogue
        (``final_conv`` and ``final_linear``). FreezeD freezes a prefix of this list."""
        return [*self.convs, self.final_conv, self.final_linear]

    def block_resolutions(self) -> list[int]:
        """Input resolution of each entry of :meth:`blocks_from_input` (size, size, size/2, ..., 8, 4, 4)."""
        return [self.size] + [2**r for r in range(int(math.log2(self.size)), 2, -1)] + [4, 4]

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        if image.ndim != 4 or image.shape[1:] != (3, self.size, self.size):
            raise ValueError(f"expected (N, 3, {self.size}, {self.size}), got {tuple(image.shape)}")
        x = minibatch_stddev(self.convs(image), self.stddev_group, self.stddev_feat)
        x = self.final_conv(x)
        return self.final_linear(x.flatten(1))

    def forward_with_features(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(logits (N, 1), the last hidden features (N, channels[4])): what :meth:`forward` computes, with
        the input of the last linear layer, for heads that share the trunk (Info-StyleGAN's code head)."""
        if image.ndim != 4 or image.shape[1:] != (3, self.size, self.size):
            raise ValueError(f"expected (N, 3, {self.size}, {self.size}), got {tuple(image.shape)}")
        x = self.final_conv(minibatch_stddev(self.convs(image), self.stddev_group, self.stddev_feat))
        h = self.final_linear[0](x.flatten(1))
        return self.final_linear[1](h), h
