"""PatchGAN discriminator: output shapes, spectral norm option, config round trip."""

from __future__ import annotations

import pytest
import torch

from toonforge.errors import InputError
from toonforge.models.discriminators.patch import PatchDiscriminator


@pytest.mark.parametrize("size", [64, 128, 256])
def test_shapes(size):
    torch.manual_seed(0)
    d = PatchDiscriminator(base_channels=16)
    out = d(torch.rand(2, 3, size, size) * 2 - 1)
    assert out.shape == (2, 1, size // 8, size // 8)
    assert torch.isfinite(out).all()


def test_n_layers_and_non_square():
    d = PatchDiscriminator(base_channels=8, n_layers=4)
    assert d(torch.zeros(1, 3, 64, 96)).shape == (1, 1, 4, 6)
    with pytest.raises(InputError):
        d(torch.zeros(1, 3, 8, 8))


def test_spectral_norm_option():
    with_sn = PatchDiscriminator(base_channels=8, spectral_norm=True)
    without = PatchDiscriminator(base_channels=8, spectral_norm=False, norm="instance")
    assert any("parametrizations" in k for k in with_sn.state_dict())
    assert not any("parametrizations" in k for k in without.state_dict())
    # Spectral norm keeps each conv's largest singular value near 1 after a few power steps.
    with_sn.train()
    x = torch.randn(2, 3, 64, 64)
    for _ in range(5):
        with_sn(x)
    w = with_sn.net[0].weight.detach().flatten(1)
    assert torch.linalg.matrix_norm(w, ord=2) < 1.2


def test_config_rebuilds_and_backward():
    d = PatchDiscriminator(base_channels=8, n_layers=2, spectral_norm=False, norm="batch")
    twin = PatchDiscriminator(**d.config)
    twin.load_state_dict(d.state_dict())
    x = torch.randn(2, 3, 32, 32, requires_grad=True)
    d(x).mean().backward()
    assert x.grad is not None and all(p.grad is not None for p in d.parameters())
    with pytest.raises(InputError):
        PatchDiscriminator(norm="layer")
