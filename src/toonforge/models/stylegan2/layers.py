"""StyleGAN2 building blocks with equalized learning rate, in plain PyTorch.

Weights are stored unscaled (N(0, 1) at init) and multiplied by ``1/sqrt(fan_in)`` (times the
learning-rate multiplier) at run time, as in the paper. Attribute names (``weight``, ``bias``,
``modulation``, ``blur``, ``noise``, ``activate``, ``upsample``) give exactly the state-dict keys of
the public rosinality-layout checkpoints.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .ops import Blur, FusedLeakyReLU, Upsample, blur_pad, fused_leaky_relu

DEMOD_EPS = 1e-8


def clamp_activations(x: torch.Tensor, conv_clamp: float | None) -> torch.Tensor:
    """x clamped to [-conv_clamp, conv_clamp] (NVlabs' ``conv_clamp``); x itself when it is None."""
    return x if conv_clamp is None else x.clamp(-conv_clamp, conv_clamp)


class PixelNorm(nn.Module):
    """Normalize each vector to unit root-mean-square over dim 1: (N, D) -> (N, D)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.square().mean(dim=1, keepdim=True) + 1e-8)


class EqualLinear(nn.Module):
    """Equalized-lr linear layer: (N, in) -> (N, out).

    Keys: ``weight`` (out, in), stored divided by ``lr_mul`` and scaled by ``lr_mul / sqrt(in)`` at run
    time; ``bias`` (out,), multiplied by ``lr_mul`` at run time. ``activation=True`` adds the fused
    leaky ReLU.
    """

    def __init__(
        self, in_dim: int, out_dim: int, bias: bool = True, bias_init: float = 0.0,
        lr_mul: float = 1.0, activation: bool = False,
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_dim,), float(bias_init))) if bias else None
        self.scale = lr_mul / math.sqrt(in_dim)
        self.lr_mul = lr_mul
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = None if self.bias is None else self.bias * self.lr_mul
        if self.activation:
            return fused_leaky_relu(F.linear(x, self.weight * self.scale), bias)
        return F.linear(x, self.weight * self.scale, bias)


class EqualConv2d(nn.Module):
    """Equalized-lr convolution: (N, in, H, W) -> (N, out, H', W'). Keys: ``weight`` (out, in, k, k), ``bias``."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, padding: int = 0,
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.scale = 1.0 / math.sqrt(in_channels * kernel_size**2)
        self.stride = stride
        self.padding = padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, stride=self.stride, padding=self.padding)


class ModulatedConv2d(nn.Module):
    """Style-modulated convolution with optional weight demodulation and 2x upsampling.

    forward(x (N, in, H, W), w (N, style_dim)) -> (N, out, H, W), or (N, out, 2H, 2W) with ``upsample``
    (stride-2 transposed conv followed by a FIR blur). Keys: ``weight`` (1, out, in, k, k),
    ``modulation.weight`` (in, style_dim), ``modulation.bias`` (in,) initialised to 1, and
    ``blur.kernel`` when upsampling.

    ``fused=True`` builds one weight per sample and runs a grouped convolution (best for small batches);
    ``fused=False`` shares the weight across the batch and scales activations instead (same result,
    faster for large batches). Both are plain PyTorch.
    """

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, style_dim: int, demodulate: bool = True,
        upsample: bool = False, blur_kernel: Sequence[float] = (1, 3, 3, 1), fused: bool = True,
    ) -> None:
        super().__init__()
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, kernel_size
        self.upsample = upsample
        if upsample:
            self.blur = Blur(blur_kernel, blur_pad(len(blur_kernel), kernel_size, 2, up=True), gain=4.0)
        self.weight = nn.Parameter(torch.randn(1, out_channels, in_channels, kernel_size, kernel_size))
        self.modulation = EqualLinear(style_dim, in_channels, bias_init=1.0)
        self.scale = 1.0 / math.sqrt(in_channels * kernel_size**2)
        self.padding = kernel_size // 2
        self.demodulate = demodulate
        self.fused = fused

    def _conv(self, x: torch.Tensor, weight: torch.Tensor, groups: int) -> torch.Tensor:
        """weight: (groups*out, in, k, k). Transposed stride-2 conv + blur, or a same-size conv."""
        if self.upsample:
            k = self.kernel_size
            w = weight.reshape(groups, -1, self.in_channels, k, k).transpose(1, 2)
            w = w.reshape(groups * self.in_channels, -1, k, k)
            return self.blur(F.conv_transpose2d(x, w, stride=2, groups=groups))
        return F.conv2d(x, weight, padding=self.padding, groups=groups)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        n, c, h, wd = x.shape
        s = self.modulation(w)  # (N, in)
        k = self.kernel_size
        if self.fused:
            weight = self.weight * self.scale * s.reshape(n, 1, c, 1, 1)  # (N, out, in, k, k)
            if self.demodulate:
                weight = weight * torch.rsqrt(weight.square().sum(dim=(2, 3, 4), keepdim=True) + DEMOD_EPS)
            out = self._conv(x.reshape(1, n * c, h, wd), weight.reshape(n * self.out_channels, c, k, k), n)
            return out.reshape(n, self.out_channels, *out.shape[2:])
        weight = self.weight[0] * self.scale  # (out, in, k, k)
        out = self._conv(x * s.reshape(n, c, 1, 1), weight, 1)
        if self.demodulate:
            sq = (weight.unsqueeze(0) * s.reshape(n, 1, c, 1, 1)).square().sum(dim=(2, 3, 4))  # (N, out)
            out = out * torch.rsqrt(sq + DEMOD_EPS).reshape(n, self.out_channels, 1, 1)
        return out


class NoiseInjection(nn.Module):
    """Add per-pixel Gaussian noise scaled by a learned scalar. Key: ``weight`` (1,), initialised to 0.

    forward(x (N, C, H, W), noise (N or 1, 1, H, W) or None -> fresh N(0, 1) noise from the global RNG).
    """

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        if noise is None:
            noise = x.new_empty(x.shape[0], 1, x.shape[2], x.shape[3]).normal_()
        return x + self.weight * noise


class ConstantInput(nn.Module):
    """The learned 4x4 starting tensor. Key: ``input`` (1, C, 4, 4); forward(batch) -> (batch, C, 4, 4)."""

    def __init__(self, channels: int, size: int = 4) -> None:
        super().__init__()
        self.input = nn.Parameter(torch.randn(1, channels, size, size))

    def forward(self, batch: int) -> torch.Tensor:
        return self.input.expand(batch, -1, -1, -1)


class StyledConv(nn.Module):
    """Modulated 3x3 conv (optionally 2x up) + noise + bias + leaky ReLU.

    forward(x (N, in, H, W), w (N, style_dim), noise) -> (N, out, H', W'). Keys under ``conv.``,
    ``noise.weight`` and ``activate.bias`` (out,). ``conv_clamp`` (NVlabs' setting, None: off) clamps
    the activated output to [-conv_clamp, conv_clamp], as NVlabs does even in fp32.
    """

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, style_dim: int, upsample: bool = False,
        blur_kernel: Sequence[float] = (1, 3, 3, 1), demodulate: bool = True, conv_clamp: float | None = None,
    ) -> None:
        super().__init__()
        self.conv = ModulatedConv2d(
            in_channels, out_channels, kernel_size, style_dim, demodulate=demodulate, upsample=upsample,
            blur_kernel=blur_kernel,
        )
        self.noise = NoiseInjection()
        self.activate = FusedLeakyReLU(out_channels)
        self.conv_clamp = conv_clamp

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        return clamp_activations(self.activate(self.noise(self.conv(x, w), noise)), self.conv_clamp)


class ToRGB(nn.Module):
    """1x1 modulated conv (no demodulation) to RGB plus bias, added to the upsampled skip image.

    forward(x (N, in, H, W), w (N, style_dim), skip (N, 3, H/2, W/2) or None) -> (N, 3, H, W).
    Keys: ``conv.weight`` (1, 3, in, 1, 1), ``conv.modulation.*``, ``bias`` (1, 3, 1, 1) and
    ``upsample.kernel`` when it takes a skip input. ``conv_clamp`` clamps this layer's own output
    (before the skip is added), as NVlabs' ToRGBLayer does.
    """

    def __init__(
        self, in_channels: int, style_dim: int, upsample: bool = True, blur_kernel: Sequence[float] = (1, 3, 3, 1),
        conv_clamp: float | None = None,
    ) -> None:
        super().__init__()
        if upsample:
            self.upsample = Upsample(blur_kernel)
        self.conv = ModulatedConv2d(in_channels, 3, 1, style_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))
        self.conv_clamp = conv_clamp

    def forward(self, x: torch.Tensor, w: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:
        out = clamp_activations(self.conv(x, w) + self.bias, self.conv_clamp)
        if skip is not None:
            out = out + self.upsample(skip)
        return out
