"""MobileNetV2: torchvision key layout, ImageNet weights, frozen multi-scale features."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import shared_data
from toonforge.errors import CheckpointError
from toonforge.models.features.mobilenetv2 import (
    FEATURE_CHANNELS,
    MobileNetV2,
    MobileNetV2Features,
    imagenet_weights_path,
    load_imagenet_mobilenet_v2,
)


def _weights_or_skip():
    from toonforge.errors import MissingDependencyError

    try:
        return imagenet_weights_path()
    except MissingDependencyError as exc:
        pytest.skip(str(exc))


def test_torchvision_key_names():
    keys = list(MobileNetV2().state_dict())
    assert keys[0] == "features.0.0.weight"
    assert "features.1.conv.0.0.weight" in keys
    assert "features.2.conv.0.0.weight" in keys and "features.2.conv.3.running_var" in keys
    assert "features.18.1.num_batches_tracked" in keys
    assert keys[-2:] == ["classifier.1.weight", "classifier.1.bias"]
    assert len(keys) == 314
    assert not any(k.startswith("classifier") for k in MobileNetV2(num_classes=0).state_dict())


def test_feature_shapes_random_init():
    torch.manual_seed(0)
    feats = MobileNetV2Features(pretrained=False)
    out = feats(torch.rand(2, 3, 64, 64) * 2 - 1)
    assert [tuple(t.shape) for t in out] == [(2, 24, 16, 16), (2, 32, 8, 8), (2, 96, 4, 4)]
    assert feats.channels == (24, 32, 96)
    assert not any(p.requires_grad for p in feats.parameters())
    feats.train()
    assert not feats.training
    custom = MobileNetV2Features(layers=(1, 18), pretrained=False)
    assert [t.shape[1] for t in custom(torch.zeros(1, 3, 64, 64))] == [FEATURE_CHANNELS[1], 1280]
    with pytest.raises(ValueError):
        MobileNetV2Features(layers=(19,), pretrained=False)


def test_gradients_reach_input():
    torch.manual_seed(0)
    feats = MobileNetV2Features(pretrained=False)
    x = torch.zeros(1, 3, 32, 32, requires_grad=True)
    sum(t.sum() for t in feats(x)).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_wrong_checkpoint_is_one_line_error(tmp_path):
    bad = tmp_path / "bad.pth"
    torch.save({"features.0.0.weight": torch.zeros(1)}, bad)
    with pytest.raises(CheckpointError) as info:
        load_imagenet_mobilenet_v2(bad)
    assert "\n" not in str(info.value)
    state = MobileNetV2().state_dict()
    state["classifier.1.weight"] = torch.zeros(10, 1280)
    torch.save(state, bad)
    with pytest.raises(CheckpointError, match="wrong shapes"):
        load_imagenet_mobilenet_v2(bad)
    with pytest.raises(CheckpointError):
        load_imagenet_mobilenet_v2(tmp_path / "absent.pth")


def test_imagenet_weights_load_strictly():
    path = _weights_or_skip()
    state = torch.load(path, map_location="cpu", weights_only=True)
    assert set(state) == set(MobileNetV2().state_dict())
    net = load_imagenet_mobilenet_v2(path)
    with torch.no_grad():
        logits = net(torch.zeros(1, 3, 224, 224))
    assert logits.shape == (1, 1000)
    assert torch.allclose(logits.softmax(1).sum(), torch.tensor(1.0), atol=1e-5)

    torch.manual_seed(0)
    x = torch.rand(1, 3, 96, 96) * 2 - 1
    pre = MobileNetV2Features(pretrained=True)(x)
    rnd = MobileNetV2Features(pretrained=False)(x)
    assert all(not torch.allclose(a, b, atol=1e-3) for a, b in zip(pre, rnd))


def test_real_photo_is_not_uniform():
    _weights_or_skip()
    folder = shared_data("faces/scut")
    from PIL import Image

    photo = min(folder.glob("*.jpg"))
    rgb = np.asarray(Image.open(photo).convert("RGB").resize((224, 224), Image.BILINEAR))
    x01 = torch.from_numpy(rgb.copy()).permute(2, 0, 1)[None].float() / 255.0
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.no_grad():
        probs = load_imagenet_mobilenet_v2()((x01 - mean) / std).softmax(1)
    top5 = probs.topk(5).values
    assert top5.max() > 0.05
    assert top5.sum() > 5 * (1.0 / 1000) * 10
