"""PatchGAN discriminator (pix2pix-style) with optional spectral normalisation."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as _sn

from toonforge.errors import InputError

NORMS = ("none", "instance", "batch")


class PatchDiscriminator(nn.Module):
    """Fully convolutional discriminator that scores overlapping patches.

    Layout: ``n_layers`` convs 4x4 stride 2 (channels base, 2*base, ... capped at 8*base), then
    one 3x3 stride-1 conv and a 3x3 stride-1 conv to 1 channel; LeakyReLU(0.2) after every conv
    but the last; an optional norm after every conv but the first and the last.
    Input: (N, in_channels, H, W) float32 in [-1, 1], with H, W >= 2**n_layers.
    Output: logits (N, 1, H // 2**n_layers, W // 2**n_layers) (exactly H/8 for the default
    n_layers=3 and H divisible by 8), unbounded.

    ``self.config`` holds the constructor arguments; ``PatchDiscriminator(**d.config)``
    rebuilds the same architecture.
    """

    def __init__(self, in_channels: int = 3, base_channels: int = 64, n_layers: int = 3,
                 spectral_norm: bool = True, norm: str = "none") -> None:
        super().__init__()
        if n_layers < 1:
            raise InputError(f"PatchDiscriminator: n_layers must be >= 1, got {n_layers}")
        if norm not in NORMS:
            raise InputError(f"PatchDiscriminator: norm must be one of {NORMS}, got {norm!r}")
        self.n_layers = n_layers

        def conv(cin: int, cout: int, k: int, s: int, p: int) -> nn.Module:
            layer = nn.Conv2d(cin, cout, k, s, p)
            return _sn(layer) if spectral_norm else layer

        def norm_layer(c: int) -> list[nn.Module]:
            if norm == "instance":
                return [nn.InstanceNorm2d(c, affine=True)]
            if norm == "batch":
                return [nn.BatchNorm2d(c)]
            return []

        layers: list[nn.Module] = [conv(in_channels, base_channels, 4, 2, 1),
                                   nn.LeakyReLU(0.2, inplace=True)]
        ch = base_channels
        for i in range(1, n_layers):
            nxt = base_channels * min(2 ** i, 8)
            layers += [conv(ch, nxt, 4, 2, 1), *norm_layer(nxt), nn.LeakyReLU(0.2, inplace=True)]
            ch = nxt
        nxt = base_channels * min(2 ** n_layers, 8)
        layers += [conv(ch, nxt, 3, 1, 1), *norm_layer(nxt), nn.LeakyReLU(0.2, inplace=True)]
        layers.append(conv(nxt, 1, 3, 1, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        min_side = 2 ** self.n_layers
        if x.ndim != 4 or x.shape[1] != self.config["in_channels"]:
            raise InputError(f"PatchDiscriminator expects (N, {self.config['in_channels']}, H, W),"
                             f" got {tuple(x.shape)}")
        if min(x.shape[2], x.shape[3]) < min_side:
            raise InputError(f"PatchDiscriminator needs H, W >= {min_side}, got "
                             f"{tuple(x.shape[2:])}")
        return self.net(x)
