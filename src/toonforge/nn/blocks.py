"""Small building blocks for CPU- and mobile-friendly image-to-image networks.

All blocks take and return NCHW float tensors and keep the spatial size unless a stride is
given. They use only ops that export cleanly to ONNX (Conv, BatchNormalization, Relu, Add,
Resize), so that ONNX Runtime can fuse Conv+BN+ReLU at load time.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ConvBNAct(nn.Sequential):
    """Conv2d -> BatchNorm2d -> ReLU (activation optional).

    Input (N, c_in, H, W) -> output (N, c_out, H/stride, W/stride); padding keeps "same" size.
    """

    def __init__(
        self,
        c_in: int,
        c_out: int,
        kernel: int = 3,
        stride: int = 1,
        groups: int = 1,
        act: bool = True,
    ) -> None:
        layers: list[nn.Module] = [
            nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, groups=groups, bias=False),
            nn.BatchNorm2d(c_out),
        ]
        if act:
            layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


class InvertedResidual(nn.Module):
    """MobileNetV2 inverted residual: 1x1 expand, 3x3 depthwise (stride 1 or 2), 1x1 project.

    Input (N, c_in, H, W) -> (N, c_out, H/stride, W/stride). The identity shortcut is used when
    the shapes match. ``expand`` is the width multiplier of the hidden layer.
    """

    def __init__(self, c_in: int, c_out: int, stride: int = 1, expand: float = 3.0) -> None:
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"stride must be 1 or 2, got {stride}")
        hidden = max(8, int(round(c_in * expand)))
        layers: list[nn.Module] = []
        if expand != 1:
            layers.append(ConvBNAct(c_in, hidden, kernel=1))
        else:
            hidden = c_in
        layers += [
            ConvBNAct(hidden, hidden, kernel=3, stride=stride, groups=hidden),
            ConvBNAct(hidden, c_out, kernel=1, act=False),
        ]
        self.body = nn.Sequential(*layers)
        self.use_shortcut = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)
        return x + y if self.use_shortcut else y


class UpFuse(nn.Module):
    """Decoder step: upsample x2 (bilinear), project to the skip's width, add the skip, refine.

    ``x`` (N, c_in, h, w) and ``skip`` (N, c_out, 2h, 2w) -> (N, c_out, 2h, 2w).
    """

    def __init__(self, c_in: int, c_out: int, blocks: int = 1, expand: float = 3.0) -> None:
        super().__init__()
        self.project = ConvBNAct(c_in, c_out, kernel=1)
        self.refine = nn.Sequential(
            *[InvertedResidual(c_out, c_out, 1, expand) for _ in range(max(1, blocks))]
        )

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(self.project(x), scale_factor=2.0, mode="bilinear", align_corners=False)
        return self.refine(x + skip)
