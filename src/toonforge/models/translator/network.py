"""The lightweight stage-3 translator: a small U-shaped encoder-decoder for CPU and phones.

Design: a strided 3x3 stem goes straight to half resolution (the only dense conv that touches
the full-resolution input), MobileNetV2 inverted residual blocks downsample to 1/16, a few
residual blocks work there cheaply, and a decoder of bilinear upsampling + additive skips
returns to half resolution; one 3x3 conv after the last upsampling writes the RGB output.
The ``-hd`` tiers add a full-resolution last stage: a 3x3 conv of the photo itself is added to
the upsampled decoder output and one inverted residual block refines the sum before the head.
Half resolution alone caps line sharpness: the anime teacher's outputs, halved and upsampled,
score FD-MNv2 232.8 against the held-out anime faces instead of 188.7. The stage's two last
BatchNorm scales start at zero, so a ``-hd`` net loaded with its base tier's weights computes
exactly what the base tier did (see :func:`grow_state`), and training only adds detail.
The ``-subpixel`` tiers go the other way, for speed: their head runs at half resolution and
writes four RGB values per pixel, which depth-to-space lays out as the full-resolution image
(the sub-pixel convolution of Shi et al. 2016). Nothing then runs at full size, not even the
bilinear upsampling, yet every output pixel has its own weights. A base tier's head converts to
it exactly (:func:`subpixel_head`), away from a two-pixel border.
Every op exports to ONNX with dynamic height and width.
"""

from __future__ import annotations

from dataclasses import asdict

import torch
import torch.nn.functional as F
from torch import nn

from ...nn.blocks import ConvBNAct, InvertedResidual, UpFuse
from ..registry import register_model
from ..translator_tiers import FULL_RES_PREFIX, TIERS

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
        self.full_res, self.subpixel = spec.full_res, spec.subpixel
        if spec.full_res:
            self.full_skip = ConvBNAct(in_channels, c1, kernel=3, act=False)
            self.full_refine = InvertedResidual(c1, c1, 1, 2.0)
            nn.init.zeros_(self.full_skip[1].weight)  # BN scales: the stage starts as the identity
            nn.init.zeros_(self.full_refine.body[-1][1].weight)
        self.head = nn.Conv2d(c1, out_channels * (4 if spec.subpixel else 1), 3, 1, 1)

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
        if self.subpixel:
            return torch.tanh(F.pixel_shuffle(self.head(y), 2))
        y = F.interpolate(y, scale_factor=2.0, mode="bilinear", align_corners=False)
        if self.full_res:
            y = self.full_refine(y + self.full_skip(x))
        return torch.tanh(self.head(y))


# Bilinear x2 upsampling (half-pixel centres) followed by a 3x3 conv, seen from half resolution:
# _UP_THEN_TAP[i][d, k] is the weight of the half-resolution pixel at offset d - 1 in the value
# that conv tap k - 1 reads, for an output pixel of phase i (even or odd) along one axis.
_UP_THEN_TAP = torch.tensor([
    [[0.75, 0.25, 0.0], [0.25, 0.75, 0.75], [0.0, 0.0, 0.25]],
    [[0.25, 0.0, 0.0], [0.75, 0.75, 0.25], [0.0, 0.25, 0.75]],
])


def subpixel_head(weight: torch.Tensor, bias: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A base tier's head (bilinear x2, then a 3x3 conv) as the equivalent sub-pixel head.

    ``weight`` (C_out, C, 3, 3) and ``bias`` (C_out,) -> ``(4 C_out, C, 3, 3)`` and ``(4 C_out,)``
    for a 3x3 conv at half resolution followed by ``pixel_shuffle(2)``: channel ``4 o + 2 i + j``
    is output channel ``o`` at row phase ``i`` and column phase ``j``. The two agree everywhere
    but a two-pixel border, where bilinear upsampling repeats the edge and the conv pads zeros.
    """
    m = _UP_THEN_TAP.to(weight)
    phases = torch.einsum("iyk,jxl,ockl->oijcyx", m, m, weight)  # (C_out, 2, 2, C, 3, 3)
    return phases.reshape(-1, *weight.shape[1:]), bias.repeat_interleave(4)


def grow_state(model: Translator, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``state`` (a translator state dict) adapted so that ``model`` starts as its base tier.

    Lets a ``-hd`` or ``-subpixel`` tier start from its base tier's trained weights. A ``-hd``
    model keeps its own identity-initialised ``full_*`` keys, which the base tier lacks; a
    ``-subpixel`` model gets the base head converted by :func:`subpixel_head`. Any other
    difference (another tier, another net) is left for the strict load to refuse.
    """
    own = model.state_dict()
    extra = {k: v for k, v in own.items() if k.startswith(FULL_RES_PREFIX) and k not in state}
    grown = {**state, **extra}
    w, b = grown.get("head.weight"), grown.get("head.bias")
    base_head = w is not None and b is not None and w.shape[0] == model.config["out_channels"]
    if model.subpixel and base_head:
        grown["head.weight"], grown["head.bias"] = subpixel_head(w, b)
    return grown


def tier_table() -> list[dict]:
    """One row per tier: name, parameter count and the spec (for docs and ``toonforge styles``)."""
    rows = []
    for name, spec in TIERS.items():
        n = sum(p.numel() for p in Translator(name).parameters())
        rows.append({"tier": name, "params": n, **asdict(spec)})
    return rows
