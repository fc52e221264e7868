"""Small networks for customised face generation: an attribute classifier and a latent generator.

* :class:`AttributeClassifier`: image (N, 3, S, S) in [-1, 1] -> class logits (N, K); strided 3x3 convs
  down to 4 px, global average pooling, one linear layer. Trained on labelled photos, then frozen.
* :class:`LatentGenerator`: noise (N, noise_dim) ~ N(0, I) -> a StyleGAN2 z (N, style_dim); an MLP
  trained (one per class) so the frozen generator's images of its z score high on the classifier
  (the reference's "Z code generator", 64-d noise in).

Both record their constructor arguments in ``self.config``.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class AttributeClassifier(nn.Module):
    """(N, 3, size, size) in [-1, 1] -> logits (N, num_classes)."""

    def __init__(self, size: int, num_classes: int, width: int = 16, max_width: int = 128) -> None:
        super().__init__()
        if size < 8 or size & (size - 1) or num_classes < 2:
            raise ValueError(f"need a power-of-two size >= 8 and >= 2 classes, got {size}, {num_classes}")
        self.config = {"size": size, "num_classes": num_classes, "width": width, "max_width": max_width}
        self.size = size
        layers: list[nn.Module] = []
        ch_in, ch = 3, width
        for _ in range(int(math.log2(size)) - 2):  # size -> 4 px
            layers += [nn.Conv2d(ch_in, ch, 3, stride=2, padding=1), nn.BatchNorm2d(ch), nn.LeakyReLU(0.2)]
            ch_in, ch = ch, min(max_width, ch * 2)
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(ch_in, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"expected (N, 3, H, W), got {tuple(x.shape)}")
        if x.shape[-1] != self.size or x.shape[-2] != self.size:
            x = nn.functional.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False,
                                          antialias=x.shape[-1] > self.size)
        return self.head(self.features(x).mean(dim=(2, 3)))


class LatentGenerator(nn.Module):
    """noise (N, noise_dim) -> z (N, style_dim): ``depth`` leaky-ReLU layers of ``hidden`` units, then linear."""

    def __init__(self, noise_dim: int = 64, style_dim: int = 512, hidden: int = 128, depth: int = 2) -> None:
        super().__init__()
        self.config = {"noise_dim": noise_dim, "style_dim": style_dim, "hidden": hidden, "depth": depth}
        self.noise_dim, self.style_dim = noise_dim, style_dim
        layers: list[nn.Module] = []
        d = noise_dim
        for _ in range(depth):
            layers += [nn.Linear(d, hidden), nn.LeakyReLU(0.2)]
            d = hidden
        layers.append(nn.Linear(d, style_dim))
        self.net = nn.Sequential(*layers)

    def forward(self, noise: torch.Tensor) -> torch.Tensor:
        if noise.ndim != 2 or noise.shape[1] != self.noise_dim:
            raise ValueError(f"noise must be (N, {self.noise_dim}), got {tuple(noise.shape)}")
        return self.net(noise)
