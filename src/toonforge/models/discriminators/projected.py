"""Projected discriminator: small patch heads on a frozen ImageNet MobileNetV2 (after Sauer et
al., "Projected GANs Converge Faster", NeurIPS 2021, without their random feature mixing).

A patch discriminator trained from scratch on a few thousand images learns slowly and, on our
anime runs, sat at chance for hundreds of steps. Judging pretrained features instead gives the
generator a useful signal from the first steps: the frozen trunk already separates flat fills,
line art and photographic skin, and only the heads learn (2.7M weights at the default width 64).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from toonforge.errors import InputError

from ..features.mobilenetv2 import FEATURE_CHANNELS, FEATURE_STRIDES, MobileNetV2, MobileNetV2Features
from .patch import PatchDiscriminator

DEFAULT_LAYERS = (3, 6, 13, 16)  # strides 4 / 8 / 16 / 32


class ProjectedDiscriminator(nn.Module):
    """Patch heads on frozen MobileNetV2 feature maps.

    Input: x (N, 3, H, W) float32 in [-1, 1], H and W multiples of 32 (>= 64).
    Output: list of logit maps, one per layer in ``layers``; the head on a stride-s map has
    log2(32 / s) stride-2 convs (at least one), so every map is about (N, 1, H/32, W/32), except
    the stride-32 one at (N, 1, H/64, W/64). Unbounded logits.

    ``backbone``: a ``MobileNetV2`` for the trunk (tests pass a random one); None loads the
    ImageNet weights. The trunk is frozen and stays in eval mode (``MobileNetV2Features``);
    gradients still reach the input, so the generator learns through it. Only the heads are in
    ``parameters()`` and ``state_dict()``. ``self.config`` holds the JSON-able constructor
    arguments.
    """

    def __init__(self, layers: Sequence[int] = DEFAULT_LAYERS, head_channels: int = 64,
                 backbone: MobileNetV2 | None = None) -> None:
        super().__init__()
        layers = tuple(sorted({int(i) for i in layers}))
        if not layers or layers[0] < 1 or layers[-1] > 17:
            raise InputError(f"projected discriminator layers must be in 1..17, got {list(layers)}")
        # The trunk is kept out of the module tree, so neither its weights nor their optimiser
        # entries go into checkpoints (it is ImageNet's, rebuilt on construction): a DCT-Net
        # checkpoint with it grew from 34 to 73 MB. ``_apply`` still moves it with the heads.
        object.__setattr__(self, "_trunk", MobileNetV2Features(layers, backbone=backbone))
        self.heads = nn.ModuleList(
            PatchDiscriminator(FEATURE_CHANNELS[i], head_channels, _head_depth(FEATURE_STRIDES[i]))
            for i in layers)

    @property
    def features(self) -> MobileNetV2Features:
        """The frozen trunk (not a submodule: absent from ``state_dict`` and ``parameters``)."""
        return self._trunk

    def _apply(self, fn, recurse: bool = True):  # noqa: ANN001, ANN202 (torch's signature)
        super()._apply(fn, recurse)
        self._trunk._apply(fn)
        return self

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        if x.ndim != 4 or x.shape[1] != 3 or x.shape[2] % 32 or x.shape[3] % 32 or min(x.shape[2:]) < 64:
            raise InputError(f"ProjectedDiscriminator expects (N, 3, H, W) with H, W multiples of 32 "
                             f"and >= 64, got {tuple(x.shape)}")
        return [head(f) for head, f in zip(self.heads, self.features(x), strict=True)]


def _head_depth(stride: int) -> int:
    """Stride-2 convs that bring a stride-``stride`` map to stride 32 (at least one)."""
    return max(1, (32 // stride).bit_length() - 1)
