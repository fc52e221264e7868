"""The U-GAT-IT generator (light and full), optionally with a background-keeping mask branch.

Layout for ``base_channels=C`` (defaults as published: C=64, 4 residual blocks, 256 px):
encoder  reflect-pad + 7x7 conv (3 -> C), then two 3x3 stride-2 convs (C -> 2C -> 4C), each
         followed by instance norm (no affine) and ReLU; ``n_blocks`` residual blocks at 4C;
CAM      attention over the 4C features (see :mod:`.cam`), 1x1 fusion, ReLU;
MLP      two bias-free 4C -> 4C layers with ReLU, fed with the average-pooled features
         (``light``) or the flattened (img_size/4)^2 * 4C feature map (full), then the
         bias-free ``gamma`` and ``beta`` heads (N, 4C) that drive every AdaLIN;
decoder  ``n_blocks`` residual blocks with AdaLIN, two (nearest x2 upsample, 3x3 conv, ILN,
         ReLU) stages (4C -> 2C -> C), reflect-pad + 7x7 conv to RGB and tanh.
All convs are bias-free except the CAM fusion, as in the reference implementation.

With ``mask_branch=True`` a second 7x7 head on the last decoder features predicts a soft mask
``m`` (sigmoid) and the output is ``composite(stylized, x, m) = m * stylized + (1 - m) * x``:
where ``m`` is exactly 0 the input pixel passes through bit-exactly.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from ..registry import register_model
from .cam import CAM
from .norms import ILN, AdaLIN

__all__ = ["GeneratorOutput", "UGATITGenerator", "composite"]


class GeneratorOutput(NamedTuple):
    """What :class:`UGATITGenerator` returns.

    out: (N, 3, H, W) in [-1, 1], the translation (composited when there is a mask branch);
    cam_logit: (N, 2) auxiliary-classifier logits ("is the input from the source domain");
    heatmap: (N, 1, H/4, W/4) channel sum of the attended features (for display);
    mask: (N, 1, H, W) in [0, 1] (1 = stylized) with the mask branch, else None;
    stylized: (N, 3, H, W) in [-1, 1], the decoder's image before compositing (= out without
    a mask branch); the trainer's identity term uses it so a zero mask cannot satisfy it.
    """

    out: torch.Tensor
    cam_logit: torch.Tensor
    heatmap: torch.Tensor
    mask: torch.Tensor | None
    stylized: torch.Tensor | None = None


def composite(stylized: torch.Tensor, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``mask * stylized + (1 - mask) * x``.

    stylized, x: (N, C, H, W); mask: (N, 1, H, W) in [0, 1]. Where the mask is exactly 0 the
    result equals ``x`` bit-exactly (0 * s + 1 * x), where it is 1 it equals ``stylized``.
    """
    return mask * stylized + (1.0 - mask) * x


def _conv(c_in: int, c_out: int, k: int, stride: int = 1) -> list[nn.Module]:
    return [nn.ReflectionPad2d(k // 2), nn.Conv2d(c_in, c_out, k, stride, 0, bias=False)]


class _ResBlock(nn.Module):
    """Two 3x3 convs with instance norm; ``x + f(x)``."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.body = nn.Sequential(*_conv(c, c, 3), nn.InstanceNorm2d(c), nn.ReLU(True),
                                  *_conv(c, c, 3), nn.InstanceNorm2d(c))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class _AdaResBlock(nn.Module):
    """Two 3x3 convs with AdaLIN driven by (gamma, beta) of shape (N, C); ``x + f(x)``."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv1, self.conv2 = nn.Sequential(*_conv(c, c, 3)), nn.Sequential(*_conv(c, c, 3))
        self.norm1, self.norm2 = AdaLIN(c), AdaLIN(c)

    def forward(self, x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.norm1(self.conv1(x), gamma, beta))
        return x + self.norm2(self.conv2(y), gamma, beta)


@register_model("ugatit_generator")
class UGATITGenerator(nn.Module):
    """U-GAT-IT generator.

    forward: x (N, in_channels, H, W) in [-1, 1], H and W multiples of 4 (full: exactly
    ``img_size``) -> :class:`GeneratorOutput`. :meth:`translate` returns only ``out``.
    """

    stride = 4

    def __init__(self, in_channels: int = 3, out_channels: int = 3, base_channels: int = 64,
                 n_blocks: int = 4, img_size: int = 256, light: bool = False,
                 mask_branch: bool = False) -> None:
        super().__init__()
        if img_size % 4 or n_blocks < 1 or base_channels < 1:
            raise ValueError(f"need img_size % 4 == 0, n_blocks >= 1, base_channels >= 1; got "
                             f"{img_size}, {n_blocks}, {base_channels}")
        if mask_branch and in_channels != out_channels:
            raise ValueError("the mask branch blends output with input: in_channels must equal out_channels")
        c, c4 = base_channels, 4 * base_channels
        layers: list[nn.Module] = [*_conv(in_channels, c, 7), nn.InstanceNorm2d(c), nn.ReLU(True)]
        for k in (1, 2):
            layers += [*_conv(c * k, c * 2 * k, 3, 2), nn.InstanceNorm2d(c * 2 * k), nn.ReLU(True)]
        layers += [_ResBlock(c4) for _ in range(n_blocks)]
        self.encoder = nn.Sequential(*layers)
        self.cam = CAM(c4)
        mlp_in = c4 if light else (img_size // 4) ** 2 * c4
        self.mlp = nn.Sequential(nn.Linear(mlp_in, c4, bias=False), nn.ReLU(True),
                                 nn.Linear(c4, c4, bias=False), nn.ReLU(True))
        self.gamma = nn.Linear(c4, c4, bias=False)
        self.beta = nn.Linear(c4, c4, bias=False)
        self.blocks = nn.ModuleList(_AdaResBlock(c4) for _ in range(n_blocks))
        up: list[nn.Module] = []
        for k in (4, 2):
            up += [nn.Upsample(scale_factor=2, mode="nearest"), *_conv(c * k, c * k // 2, 3),
                   ILN(c * k // 2), nn.ReLU(True)]
        self.upsample = nn.Sequential(*up)
        self.to_rgb = nn.Sequential(*_conv(c, out_channels, 7), nn.Tanh())
        self.to_mask = None
        if mask_branch:
            self.to_mask = nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(c, 1, 7, 1, 0), nn.Sigmoid())

    def _check(self, x: torch.Tensor) -> None:
        cfg = self.config
        if x.ndim != 4 or x.shape[1] != cfg["in_channels"]:
            raise ValueError(f"expected (N, {cfg['in_channels']}, H, W), got {tuple(x.shape)}")
        if x.shape[2] % 4 or x.shape[3] % 4:
            raise ValueError(f"height and width must be multiples of 4, got {tuple(x.shape[2:])}")
        if not cfg["light"] and tuple(x.shape[2:]) != (cfg["img_size"],) * 2:
            raise ValueError(f"the full generator takes {cfg['img_size']}x{cfg['img_size']} inputs, "
                             f"got {tuple(x.shape[2:])}")

    def forward(self, x: torch.Tensor) -> GeneratorOutput:
        if not torch.jit.is_tracing() and not torch.onnx.is_in_onnx_export():
            self._check(x)
        h = self.encoder(x)
        h, cam_logit, heatmap = self.cam(h)
        pooled = h.mean(dim=(2, 3)) if self.config["light"] else h.flatten(1)
        z = self.mlp(pooled)
        gamma, beta = self.gamma(z), self.beta(z)
        for block in self.blocks:
            h = block(h, gamma, beta)
        h = self.upsample(h)
        stylized = out = self.to_rgb(h)
        mask = None
        if self.to_mask is not None:
            mask = self.to_mask(h)
            out = composite(stylized, x, mask)
        return GeneratorOutput(out, cam_logit, heatmap, mask, stylized)

    def translate(self, x: torch.Tensor) -> torch.Tensor:
        """Only the translated image: (N, 3, H, W) in [-1, 1] -> (N, 3, H, W) in [-1, 1]."""
        return self.forward(x).out
