"""Losses: pixel L1, perceptual, adversarial kinds, CartoonGAN edge promotion."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from toonforge.errors import InputError
from toonforge.losses.adversarial import d_fake_loss, d_loss, d_real_loss, g_loss
from toonforge.losses.edge import edge_promoting_d_loss, edge_smooth, edge_smooth_tensor
from toonforge.losses.perceptual import PerceptualLoss
from toonforge.losses.pixel import l1_loss
from toonforge.models.features.mobilenetv2 import MobileNetV2Features


def _const(v: float, shape=(2, 1, 4, 4)) -> torch.Tensor:
    return torch.full(shape, v)


# --- pixel -------------------------------------------------------------------------------


def test_l1_zero_for_identical_and_masked_mean():
    x = torch.rand(2, 3, 8, 8) * 2 - 1
    assert l1_loss(x, x.clone()).item() == 0.0
    y = x + 0.5
    assert l1_loss(x, y).item() == pytest.approx(0.5)
    mask = torch.zeros(2, 1, 8, 8)
    mask[..., :4] = 1.0
    y2 = x.clone()
    y2[..., :4] += 0.25
    y2[..., 4:] += 10.0  # outside the mask: ignored
    assert l1_loss(x, y2, mask).item() == pytest.approx(0.25, rel=1e-5)
    with pytest.raises(InputError):
        l1_loss(x, torch.zeros(2, 3, 4, 4))


# --- adversarial ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind, real, fake, d_expected, g_expected",
    [
        ("hinge", 0.5, 0.5, 0.5 + 1.5, -0.5),
        ("hinge", 2.0, -2.0, 0.0, 2.0),
        ("lsgan", 0.5, 0.5, 0.25 + 0.25, 0.25),
        ("lsgan", 1.0, 0.0, 0.0, 1.0),
        ("nonsaturating", 0.0, 0.0, 2 * math.log(2), math.log(2)),
    ],
)
def test_adversarial_known_values(kind, real, fake, d_expected, g_expected):
    assert d_loss(_const(real), _const(fake), kind).item() == pytest.approx(d_expected, abs=1e-6)
    assert g_loss(_const(fake), kind).item() == pytest.approx(g_expected, abs=1e-6)
    total = d_real_loss(_const(real), kind) + d_fake_loss(_const(fake), kind)
    assert total.item() == pytest.approx(d_expected, abs=1e-6)


def test_adversarial_lists_average_scales():
    real = [_const(0.5), _const(0.5, (2, 1, 2, 2))]
    fake = [_const(0.5), _const(-1.0, (2, 1, 2, 2))]
    # hinge: scale 1 gives 0.5 + 1.5, scale 2 gives 0.5 + 0.0; mean over scales.
    assert d_loss(real, fake, "hinge").item() == pytest.approx((2.0 + 0.5) / 2)
    assert g_loss(fake, "hinge").item() == pytest.approx((-0.5 + 1.0) / 2)


def test_adversarial_unknown_kind_and_gradients():
    with pytest.raises(InputError, match="unknown GAN loss kind"):
        g_loss(_const(0.0), "wgan")
    with pytest.raises(InputError):
        d_loss([], [], "hinge")
    for kind in ("hinge", "lsgan", "nonsaturating"):
        fake = torch.randn(2, 1, 4, 4, requires_grad=True)
        g_loss(fake, kind).backward()
        assert fake.grad is not None and fake.grad.abs().sum() > 0


# --- perceptual ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def perceptual() -> PerceptualLoss:
    torch.manual_seed(0)
    return PerceptualLoss(MobileNetV2Features(pretrained=False), layer_weights=(1.0, 0.5, 0.25))


def test_perceptual_zero_for_identical(perceptual):
    torch.manual_seed(1)
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    assert perceptual(x, x.clone()).item() == 0.0
    assert perceptual(x, (x + 0.3).clamp(-1, 1)).item() > 0


def test_perceptual_gradients_flow_to_pred_only(perceptual):
    torch.manual_seed(2)
    pred = (torch.rand(1, 3, 64, 64) * 2 - 1).requires_grad_(True)
    target = torch.rand(1, 3, 64, 64) * 2 - 1
    perceptual(pred, target).backward()
    assert pred.grad is not None and pred.grad.abs().sum() > 0
    assert all(p.grad is None for p in perceptual.parameters())
    perceptual.train()
    assert not perceptual.features.training


def test_perceptual_layer_weight_count_checked():
    loss = PerceptualLoss(MobileNetV2Features(layers=(3,), pretrained=False), layer_weights=(1, 2))
    with pytest.raises(InputError):
        loss(torch.zeros(1, 3, 32, 32), torch.zeros(1, 3, 32, 32))


# --- edge promoting ------------------------------------------------------------------------


def _square_image() -> np.ndarray:
    img = np.full((64, 64, 3), 200, np.uint8)
    img[20:44, 20:44] = (30, 60, 90)
    return img


def test_edge_smooth_changes_only_near_edges():
    img = _square_image()
    out = edge_smooth(img)
    assert out.shape == img.shape and out.dtype == np.uint8
    changed = np.any(out != img, axis=2)
    assert changed.any(), "the square's border must be blurred"
    ys, xs = np.nonzero(changed)
    # Every changed pixel lies within a few pixels of the square's border (rows/cols 20 and 43).
    dist = np.minimum.reduce([np.abs(ys - 20), np.abs(ys - 43), np.abs(xs - 20), np.abs(xs - 43)])
    assert dist.max() <= 4
    # Flat areas far from the edge are bit-exact.
    assert np.array_equal(out[:12, :12], img[:12, :12])
    assert np.array_equal(out[28:36, 28:36], img[28:36, 28:36])
    flat = np.full((32, 32, 3), 77, np.uint8)
    assert np.array_equal(edge_smooth(flat), flat)
    with pytest.raises(InputError):
        edge_smooth(img[..., 0])


def test_edge_smooth_tensor_matches_numpy():
    img = _square_image()
    x = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 127.5 - 1
    y = edge_smooth_tensor(torch.cat([x, x]))
    assert y.shape == (2, 3, 64, 64) and y.dtype == torch.float32
    assert y.min() >= -1 and y.max() <= 1
    expected = edge_smooth(img).astype(np.float32) / 127.5 - 1
    got = y[1].permute(1, 2, 0).numpy()
    assert np.abs(got - expected).max() < 1e-5


def test_edge_promoting_d_loss_counts_smoothed_as_fake():
    real, fake, smooth = _const(1.0), _const(-1.0), _const(0.5)
    # lsgan: (1-1)^2 + (-1)^2 + 0.5^2
    value = edge_promoting_d_loss(real, fake, smooth, "lsgan").item()
    assert value == pytest.approx(0.0 + 1.0 + 0.25)
    hinge = edge_promoting_d_loss(real, fake, smooth, "hinge").item()
    assert hinge == pytest.approx(0.0 + 0.0 + 1.5)
