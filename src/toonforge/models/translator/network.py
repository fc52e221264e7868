"""The lightweight stage-3 translator: a small U-shaped encoder-decoder for CPU and phones.

Design: a strided 3x3 stem goes straight to half resolution (the only dense conv that touches
the full-resolution input), MobileNetV2 inverted residual blocks downsample to 1/16, a few
residual blocks work there cheaply, and a decoder of bilinear upsampling + additive skips
returns to half resolution; one 3x3 conv after the last upsampling writes the RGB output.
Every op exports to ONNX with dynamic height and width.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ...nn.blocks import ConvBNAct, InvertedResidual, UpFuse
from ..registry import register_model


@dataclass(frozen=True)
class TierSpec:
    """Widths at strides 2, 4, 8, 16; blocks per encoder stage (s4, s8, s16); expansion."""

    widths: tuple[int, int, int, int]
    blocks: tuple[int, int, int]
    expand: float


TIERS: dict[str, TierSpec] = {
    "tiny": TierSpec(widths=(8, 16, 32, 64), blocks=(1, 1, 2), expand=2.0),
    "small": TierSpec(widths=(16, 24, 48, 96), blocks=(1, 2, 4), expand=3.0),
    "base": TierSpec(widths=(24, 40, 80, 160), blocks=(2, 3, 6), expand=4.0),
}

STRIDE = 16


@register_model("translator")
class Translator(nn.Module):
    """Photo -> stylized image, same size.

    forward: x (N, 3, H, W) float in [-1, 1], H and W multiples of ``STRIDE`` (16)
    -> (N, 3, H, W) in [-1, 1] (tanh output).
    """

    stride = STRIDE

    def __init__(self, tier: str = "small", in_channels: int = 3, out_channels: int = 3) -> None:
        super().__init__()
        if tier not in TIERS:
            raise ValueError(f"unknown tier {tier!r}; choose from {', '.join(TIERS)}")
        self.config = {"tier": tier, "in_channels": in_channels, "out_channels": out_channels}
        spec = TIERS[tier]
        c1, c2, c3, c4 = spec.widths
        b2, b3, b4 = spec.blocks
        e = spec.expand
        self.stem = ConvBNAct(in_channels, c1, kernel=3, stride=2)
        self.enc2 = self._stage(c1, c2, b2, e)
        self.enc3 = self._stage(c2, c3, b3, e)
        self.enc4 = self._stage(c3, c4, b4, e)
        self.dec3 = UpFuse(c4, c3, 1, e)
        self.dec2 = UpFuse(c3, c2, 1, e)
        self.dec1 = UpFuse(c2, c1, 1, e)
        self.head = nn.Conv2d(c1, out_channels, 3, 1, 1)

    @staticmethod
    def _stage(c_in: int, c_out: int, blocks: int, expand: float) -> nn.Sequential:
        layers = [InvertedResidual(c_in, c_out, 2, expand)]
        layers += [InvertedResidual(c_out, c_out, 1, expand) for _ in range(blocks)]
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not torch.jit.is_tracing() and not torch.onnx.is_in_onnx_export():
            if x.ndim != 4 or x.shape[1] != self.config["in_channels"]:
                raise ValueError(f"expected (N, {self.config['in_channels']}, H, W), got {tuple(x.shape)}")
            if x.shape[2] % STRIDE or x.shape[3] % STRIDE:
                raise ValueError(f"height and width must be multiples of {STRIDE}, got {tuple(x.shape[2:])}")
        s2 = self.stem(x)
        s4 = self.enc2(s2)
        s8 = self.enc3(s4)
        s16 = self.enc4(s8)
        y = self.dec1(self.dec2(self.dec3(s16, s8), s4), s2)
        y = F.interpolate(y, scale_factor=2.0, mode="bilinear", align_corners=False)
        return torch.tanh(self.head(y))


def tier_table() -> list[dict]:
    """One row per tier: name, parameter count and the spec (for docs and ``toonforge styles``)."""
    rows = []
    for name, spec in TIERS.items():
        n = sum(p.numel() for p in Translator(name).parameters())
        rows.append({"tier": name, "params": n, **asdict(spec)})
    return rows
