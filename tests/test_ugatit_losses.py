"""Translation losses on known inputs."""

from __future__ import annotations

import pytest
import torch

from toonforge.errors import InputError
from toonforge.losses.pixel import total_variation
from toonforge.losses.translation import (
    background_loss,
    cam_loss,
    cycle_loss,
    identity_loss,
    mask_regularizer,
)


def test_cycle_and_identity_are_zero_for_identity_generators():
    torch.manual_seed(0)
    x = torch.rand(2, 3, 8, 8) * 2 - 1
    g = torch.nn.Identity()
    assert float(cycle_loss(g(g(x)), x)) == 0.0
    assert float(identity_loss(g(x), x)) == 0.0
    assert float(cycle_loss(x + 0.5, x)) == pytest.approx(0.5)


def test_cam_loss_is_small_for_confident_right_answers():
    big = torch.full((2, 2), 20.0)
    assert float(cam_loss(big, -big)) < 1e-6
    assert float(cam_loss(-big, big)) == pytest.approx(40.0, rel=1e-6)
    assert float(cam_loss(torch.zeros(2, 2), torch.zeros(2, 2))) == pytest.approx(2 * 0.693147, rel=1e-5)


def test_background_loss_only_sees_the_background():
    torch.manual_seed(0)
    x = torch.rand(2, 3, 8, 8) * 2 - 1
    mask = torch.zeros(2, 1, 8, 8)
    mask[:, :, 2:6, 2:6] = 1.0
    out = x.clone()
    out[:, :, 2:6, 2:6] += 1.0  # changes inside the face only
    assert float(background_loss(out, x, mask)) == 0.0
    out[:, :, 0, 0] += 0.5  # one background pixel changes
    n_bg = 2 * (64 - 16)
    assert float(background_loss(out, x, mask)) == pytest.approx(2 * 3 * 0.5 / (3 * n_bg), rel=1e-4)
    # normalised by background area: a uniform shift costs the same whatever the mask size
    shifted = x + 0.25
    for m in (mask, torch.zeros_like(mask)):
        assert float(background_loss(shifted, x, m)) == pytest.approx(0.25, rel=1e-4)
    assert float(background_loss(shifted, x, torch.ones_like(mask))) == 0.0
    with pytest.raises(InputError, match="mask"):
        background_loss(x, x, mask[:, :, :4])


def test_mask_regularizer():
    zero = torch.zeros(1, 1, 6, 6)
    assert float(mask_regularizer(zero)) == 0.0
    ones = torch.ones(1, 1, 6, 6)
    assert float(mask_regularizer(ones)) == 1.0  # mean 1, no edges
    stripes = torch.zeros(1, 1, 6, 6)
    stripes[..., ::2] = 1.0
    assert float(total_variation(stripes)) == 1.0
    assert float(mask_regularizer(stripes, tv_weight=2.0)) == pytest.approx(0.5 + 2.0)
