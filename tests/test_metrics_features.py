"""Feature extractors (MobileNetV2, FID Inception-v3), extract_features and perceptual distance."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from conftest import synthetic_face
from toonforge.errors import InputError, MissingDependencyError
from toonforge.metrics import (
    FeatureExtractor,
    InceptionFID,
    MobileNetV2Pooled,
    create_extractor,
    extract_features,
    perceptual_distance,
    perceptual_distances,
)
from toonforge.models.features.inception import FIDInceptionV3, _avg3
from toonforge.models.features.mobilenetv2 import MobileNetV2, imagenet_weights_path


def _weights_or_skip():
    try:
        return imagenet_weights_path()
    except MissingDependencyError as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def mnv2() -> MobileNetV2Pooled:
    _weights_or_skip()
    return MobileNetV2Pooled()


def _images(n: int, size: tuple[int, int], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, *size, 3), dtype=np.uint8)


# --- MobileNetV2 -------------------------------------------------------------------------------


def test_mnv2_weights_path_points_at_the_torchvision_file():
    path = _weights_or_skip()
    assert path.name == "mobilenet_v2-b0353104.pth" and path.is_file()


def test_mnv2_pooled_features(mnv2):
    assert isinstance(mnv2, FeatureExtractor)
    assert (mnv2.name, mnv2.fd_label, mnv2.dim) == ("mnv2", "FD-MNv2", 1280)
    face = synthetic_face(96, seed=1)[0]
    batch = np.stack([face, cv2.GaussianBlur(face, (0, 0), 1.0), _images(1, (96, 96), 5)[0]])
    feats = mnv2(batch)
    assert feats.shape == (3, 1280) and feats.dtype == np.float64
    assert np.isfinite(feats).all() and (feats >= 0).all() and feats.std() > 0
    # A lightly blurred copy lies much closer in feature space than random noise does.
    assert np.linalg.norm(feats[0] - feats[1]) < 0.5 * np.linalg.norm(feats[0] - feats[2])
    with pytest.raises(InputError):
        mnv2(np.zeros((2, 40, 56, 3), np.float32))


class MeanColour:
    """A cheap stand-in extractor (per-channel means) that records the batches it gets."""

    name, fd_label, dim = "mean", "FD-mean", 3

    def __init__(self) -> None:
        self.batches: list[tuple[int, ...]] = []

    def __call__(self, images: np.ndarray) -> np.ndarray:
        self.batches.append(images.shape)
        return images.reshape(len(images), -1, 3).mean(axis=1)


def test_extract_features_batches_runs_of_one_size_and_keeps_order(capsys):
    ext = MeanColour()
    assert isinstance(ext, FeatureExtractor)
    imgs = [np.full((4, 6, 3), v, np.uint8) for v in (1, 2)] + [np.full((5, 5, 3), 3, np.uint8)] \
        + [np.full((4, 6, 3), v, np.uint8) for v in (4, 5, 6)]
    feats = extract_features(ext, iter(imgs), batch_size=4, progress=True)
    np.testing.assert_array_equal(feats[:, 0], [1, 2, 3, 4, 5, 6])
    assert feats.dtype == np.float64
    assert ext.batches == [(2, 4, 6, 3), (1, 5, 5, 3), (1, 4, 6, 3), (2, 4, 6, 3)]
    assert "features (mean)" in capsys.readouterr().err
    assert extract_features(ext, []).shape == (0, 3)
    with pytest.raises(InputError, match="image 1"):
        extract_features(ext, [imgs[0], np.zeros((32, 48), np.uint8)])
    with pytest.raises(InputError, match="batch_size"):
        extract_features(ext, imgs, batch_size=0)


def test_create_extractor_errors(tmp_path):
    with pytest.raises(InputError, match="unknown feature extractor"):
        create_extractor("vgg")
    with pytest.raises(InputError, match="weights file"):
        create_extractor("inception")
    with pytest.raises(InputError, match="not found"):
        create_extractor("inception", weights=tmp_path / "missing.pth")
    with pytest.raises(InputError, match="not found"):
        create_extractor("mnv2", weights=tmp_path / "missing.pth")


# --- FID Inception-v3 --------------------------------------------------------------------------


def test_fid_inception_architecture():
    net = FIDInceptionV3()
    # torchvision's inception_v3 has 27,161,264 parameters with its aux head and 1000 classes.
    # Without the aux head (conv 768->128 1x1: 98,304 + BN 256; conv 128->768 5x5: 2,457,600 +
    # BN 1,536; fc 768*1000 + 1000 = 769,000) that is 23,834,568, and the 1008-way fc adds
    # 8 * (2048 + 1) = 16,392: 23,850,960.
    assert sum(p.numel() for p in net.parameters()) == 23_850_960
    keys = list(net.state_dict())
    # 94 conv+BN units x 6 entries (weight; BN weight, bias, running mean/var, batch count) + fc.
    assert len(keys) == 94 * 6 + 2
    assert keys[:2] == ["Conv2d_1a_3x3.conv.weight", "Conv2d_1a_3x3.bn.weight"]
    assert "Conv2d_1a_3x3.bn.running_mean" in keys and "Mixed_5b.branch1x1.conv.weight" in keys
    assert "Mixed_7c.branch3x3dbl_3b.bn.running_var" in keys and "Mixed_6e.branch7x7dbl_5.conv.weight" in keys
    assert keys[-2:] == ["fc.weight", "fc.bias"] and net.fc.weight.shape == (1008, 2048)
    assert not any(k.startswith("AuxLogits") for k in keys)
    assert net.Mixed_7c.max_pool and not net.Mixed_7b.max_pool
    # FID's average pools ignore the zero padding: a constant map stays constant at the borders.
    assert torch.equal(_avg3(torch.ones(1, 2, 5, 5)), torch.ones(1, 2, 5, 5))


@pytest.fixture(scope="module")
def inception_file(tmp_path_factory):
    """Seeded random FID Inception weights, saved without BN batch counters (as old torch did)."""
    torch.manual_seed(0)
    net = FIDInceptionV3()
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 2.0)
    state = {k: v for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
    path = tmp_path_factory.mktemp("inception") / "pt_inception-random.pth"
    torch.save(state, path)
    return path, state


def test_inception_extractor_round_trip_and_features(inception_file):
    path, state = inception_file
    ext = create_extractor("inception", weights=path)
    assert isinstance(ext, InceptionFID) and isinstance(ext, FeatureExtractor)
    assert (ext.name, ext.fd_label, ext.dim) == ("inception", "FID", 2048)
    loaded = ext.net.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in state.items())
    feats = ext(_images(1, (40, 30)))
    assert feats.shape == (1, 2048) and feats.dtype == np.float64
    assert np.isfinite(feats).all() and (feats >= 0).all() and feats.std() > 0


def test_inception_rejects_other_architectures(tmp_path, inception_file):
    wrong = tmp_path / "mobilenet.pth"
    torch.save(MobileNetV2().state_dict(), wrong)
    with pytest.raises(InputError, match="does not fit"):
        InceptionFID(wrong)
    _, state = inception_file
    partial = tmp_path / "no_fc.safetensors"
    from safetensors.torch import save_file

    save_file({k: v for k, v in state.items() if k.startswith("Conv2d_")}, str(partial))
    with pytest.raises(InputError, match="missing keys"):
        InceptionFID(partial)


# --- perceptual distance -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def textured() -> np.ndarray:
    img, _ = synthetic_face(96, seed=3)
    fine = np.random.default_rng(4).integers(-40, 40, img.shape)
    return np.clip(img.astype(int) + fine, 0, 255).astype(np.uint8)


def test_perceptual_zero_on_identical_and_grows_with_blur(textured):
    _weights_or_skip()
    assert perceptual_distance(textured, textured.copy()) == pytest.approx(0.0, abs=1e-9)
    blurred = [cv2.GaussianBlur(textured, (0, 0), s) for s in (0.7, 1.5, 3.0)]
    d = perceptual_distances([textured] * 3, blurred)
    assert d.shape == (3,) and d.dtype == np.float64
    assert 0 < d[0] < d[1] < d[2] <= 4
    assert perceptual_distance(textured, blurred[1]) == pytest.approx(d[1], rel=1e-6)


def test_perceptual_mixed_sizes_and_errors(textured):
    _weights_or_skip()
    small = cv2.resize(textured, (48, 48), interpolation=cv2.INTER_AREA)
    d = perceptual_distances([textured, small], [textured, 255 - small], batch_size=4)
    assert d[0] == pytest.approx(0.0, abs=1e-9) and d[1] > 0
    with pytest.raises(InputError, match="differ in size"):
        perceptual_distance(textured, small)
    with pytest.raises(InputError, match="equal counts"):
        perceptual_distances([textured], [])
