"""The AnimeGANv2 generator (Chen et al., 2020) with the state-dict keys of the PyTorch port whose
face-paint checkpoints (``face_paint_512_v1.pt``, ``face_paint_512_v2.pt``, ``paprika.pt``,
``celeba_distill.pt``) people download, so such a file loads strictly with ``weights_only=True``.

Layout (every "conv unit" is reflection pad -> conv -> GroupNorm(1 group) -> leaky ReLU 0.2; its
conv is index 1 and its norm index 2 in the keys):

* ``block_a``: 7x7 unit 3->32, stride-2 unit 32->64 (padded right/bottom only), unit 64->64;
* ``block_b``: stride-2 unit 64->128 (same padding), unit 128->128;
* ``block_c``: unit 128->128, four inverted residual blocks (``layers``: 1x1 expansion unit,
  depthwise 3x3 unit with bias, 1x1 projection conv, GroupNorm; a skip when the widths agree)
  128->256->256->256->256, unit 256->128;
* 2x bilinear upsampling, ``block_d``: two units 128->128;
* 2x bilinear upsampling, ``block_e``: units 128->64, 64->64, 7x7 64->32;
* ``out_layer``: 1x1 conv 32->3 without bias, then tanh.

The two upsampling steps come in two variants, both in use: ``align_corners=True`` resizes to the
exact sizes of the matching encoder maps with aligned corners (the face-paint helper's default);
``align_corners=False`` doubles the size with half-pixel sampling (the port's test script default).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..registry import register_model


def _unit(cin: int, cout: int, kernel: int = 3, stride: int = 1, pad: int | tuple[int, int, int, int] = 1,
          groups: int = 1, bias: bool = False) -> nn.Sequential:
    """Reflection pad, conv, one-group GroupNorm, leaky ReLU: (N, cin, H, W) -> (N, cout, H', W')."""
    return nn.Sequential(
        nn.ReflectionPad2d(pad),
        nn.Conv2d(cin, cout, kernel, stride=stride, padding=0, groups=groups, bias=bias),
        nn.GroupNorm(1, cout, affine=True),
        nn.LeakyReLU(0.2),
    )


class InvertedResidual(nn.Module):
    """MobileNetV2-style block: expand x2 (1x1), depthwise 3x3, project (1x1) + GroupNorm; skip when
    ``cin == cout``. (N, cin, H, W) -> (N, cout, H, W)."""

    def __init__(self, cin: int, cout: int, expansion: float = 2.0) -> None:
        super().__init__()
        wide = int(round(cin * expansion))
        parts: list[nn.Module] = [] if expansion == 1 else [_unit(cin, wide, kernel=1, pad=0)]
        parts += [_unit(wide, wide, groups=wide, bias=True), nn.Conv2d(wide, cout, 1, bias=False),
                  nn.GroupNorm(1, cout, affine=True)]
        self.layers = nn.Sequential(*parts)
        self.residual = cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.layers(x)
        return x + y if self.residual else y


_DOWN_PAD = (0, 1, 0, 1)  # left, right, top, bottom: the stride-2 units pad only after the image


@register_model("animeganv2")
class AnimeGANv2Generator(nn.Module):
    """RGB (N, 3, H, W) in [-1, 1] -> RGB (N, 3, H, W) in [-1, 1] (tanh).

    H and W must be multiples of 4 (``stride``) for ``align_corners=False``, whose upsampling
    doubles sizes; the aligned variant resizes to the encoder's sizes and takes any size.
    """

    stride = 4

    def __init__(self, align_corners: bool = True) -> None:
        super().__init__()
        self.align_corners = bool(align_corners)
        self.block_a = nn.Sequential(_unit(3, 32, kernel=7, pad=3), _unit(32, 64, stride=2, pad=_DOWN_PAD),
                                     _unit(64, 64))
        self.block_b = nn.Sequential(_unit(64, 128, stride=2, pad=_DOWN_PAD), _unit(128, 128))
        self.block_c = nn.Sequential(
            _unit(128, 128), InvertedResidual(128, 256), *[InvertedResidual(256, 256) for _ in range(3)],
            _unit(256, 128),
        )
        self.block_d = nn.Sequential(_unit(128, 128), _unit(128, 128))
        self.block_e = nn.Sequential(_unit(128, 64), _unit(64, 64), _unit(64, 32, kernel=7, pad=3))
        self.out_layer = nn.Sequential(nn.Conv2d(32, 3, 1, bias=False), nn.Tanh())

    def _up(self, x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        if self.align_corners:
            return F.interpolate(x, size=like.shape[-2:], mode="bilinear", align_corners=True)
        return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"expected (N, 3, H, W), got {tuple(x.shape)}")
        half = self.block_a(x)
        y = self.block_c(self.block_b(half))
        y = self.block_d(self._up(y, half))
        y = self.block_e(self._up(y, x))
        return self.out_layer(y)
