"""Low-level StyleGAN2 ops in plain PyTorch: FIR resampling (upfirdn2d) and the fused bias + leaky ReLU.

Nothing here needs a compiler: every op is built from ``F.pad``, ``F.conv2d`` and reshapes, so it runs
on any CPU and exports through TorchScript/ONNX. The modules keep their filter taps as a buffer named
``kernel`` because that is where the public (rosinality-layout) checkpoints store them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

LRELU_SLOPE = 0.2
LRELU_GAIN = math.sqrt(2.0)


def make_kernel(taps: Sequence[float]) -> torch.Tensor:
    """Separable FIR taps -> a normalized 2-D filter (K, K) float32 whose entries sum to 1.

    A 2-D list is used as is (then normalized).
    """
    k = torch.as_tensor(taps, dtype=torch.float32)
    if k.ndim == 1:
        k = torch.outer(k, k)
    if k.ndim != 2:
        raise ValueError(f"blur kernel must be 1-D or 2-D, got {k.ndim}-D")
    return k / k.sum()


def upfirdn2d(
    x: torch.Tensor, kernel: torch.Tensor, up: int = 1, down: int = 1, pad: tuple[int, int] = (0, 0)
) -> torch.Tensor:
    """Upsample by zero insertion, pad, convolve with a 2-D FIR filter, then keep every ``down``-th pixel.

    x: (N, C, H, W); kernel: (kh, kw); pad: (before, after), applied to both axes (negative crops).
    Returns (N, C, (H*up + pad0 + pad1 - kh) // down + 1, same for W). The filter is applied as a true
    convolution (flipped), as in the reference implementation; the usual kernels are symmetric anyway.
    """
    n, c, h, w = x.shape
    if up > 1:
        # (N, C, H, 1, W, 1) padded to (N, C, H, up, W, up): each pixel followed by up-1 zeros.
        x = x.reshape(n, c, h, 1, w, 1)
        x = F.pad(x, (0, up - 1, 0, 0, 0, up - 1))
        x = x.reshape(n, c, h * up, w * up)
    p0, p1 = pad
    x = F.pad(x, (p0, p1, p0, p1))
    kh, kw = kernel.shape
    weight = torch.flip(kernel, (0, 1)).to(x.dtype).reshape(1, 1, kh, kw).expand(c, 1, kh, kw)
    return F.conv2d(x, weight, stride=down, groups=c)


def fused_leaky_relu(
    x: torch.Tensor, bias: torch.Tensor | None, slope: float = LRELU_SLOPE, gain: float = LRELU_GAIN
) -> torch.Tensor:
    """``leaky_relu(x + bias, slope) * gain``; bias (C,) is added along dim 1 of x (N, C, ...)."""
    if bias is not None:
        x = x + bias.reshape(1, -1, *([1] * (x.ndim - 2)))
    return F.leaky_relu(x, slope) * gain


class FusedLeakyReLU(nn.Module):
    """Learned per-channel bias, then leaky ReLU (slope 0.2) scaled by sqrt(2). Key: ``bias`` (C,)."""

    def __init__(self, channels: int, bias: bool = True) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return fused_leaky_relu(x, self.bias)


class Blur(nn.Module):
    """FIR filter at the same rate with padding ``pad`` (before, after). Buffer ``kernel`` (K, K).

    ``gain`` multiplies the taps (4 after a stride-2 transposed convolution, to keep the DC gain 1).
    """

    def __init__(self, taps: Sequence[float], pad: tuple[int, int], gain: float = 1.0) -> None:
        super().__init__()
        self.register_buffer("kernel", make_kernel(taps) * gain)
        self.pad = pad

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return upfirdn2d(x, self.kernel, pad=self.pad)


class Upsample(nn.Module):
    """2x FIR upsampling: (N, C, H, W) -> (N, C, 2H, 2W). Buffer ``kernel`` = taps * 4."""

    def __init__(self, taps: Sequence[float], factor: int = 2) -> None:
        super().__init__()
        self.factor = factor
        self.register_buffer("kernel", make_kernel(taps) * factor**2)
        extra = self.kernel.shape[0] - factor
        self.pad = ((extra + 1) // 2 + factor - 1, extra // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return upfirdn2d(x, self.kernel, up=self.factor, pad=self.pad)


def blur_pad(taps: int, kernel_size: int, factor: int, up: bool) -> tuple[int, int]:
    """Padding of the blur that accompanies a stride-``factor`` conv of ``kernel_size`` (same as the paper)."""
    if up:
        extra = (taps - factor) - (kernel_size - 1)
        return (extra + 1) // 2 + factor - 1, extra // 2 + 1
    extra = (taps - factor) + (kernel_size - 1)
    return (extra + 1) // 2, extra // 2
