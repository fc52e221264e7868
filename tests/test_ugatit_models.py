"""U-GAT-IT networks: shapes, ranges, norms, mask branch and published parameter counts."""

from __future__ import annotations

import pytest
import torch

from toonforge.models.factory import create_model
from toonforge.models.ugatit import (
    ILN,
    AdaLIN,
    GeneratorOutput,
    UGATITDiscriminator,
    UGATITGenerator,
    clip_rho,
    composite,
    min_input_size,
)


def _count(net: torch.nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def tiny_g(**kw) -> UGATITGenerator:
    torch.manual_seed(0)
    base = dict(base_channels=8, n_blocks=1, img_size=32, light=True)
    return create_model("ugatit_generator", **(base | kw))


def test_light_generator_matches_published_size():
    """Published U-GAT-IT light (256 px, 64 channels, 4 blocks): about 10.6M parameters.

    Derivation: stem 3*64*49 = 9,408; down convs 64*128*9 + 128*256*9 = 368,640; 4 encoder
    resblocks 4 * 2 * 256*256*9 = 4,718,592; CAM 2*256 + (512*256 + 256) = 131,840; MLP + gamma
    + beta 4 * 256*256 = 262,144; 4 AdaLIN resblocks 4 * (2 * 589,824 + 2*256) = 4,720,640;
    up convs 256*128*9 + 128*64*9 + ILN 3*(128 + 64) = 369,216; to RGB 64*3*49 = 9,408.
    Total 10,589,888.
    """
    n = _count(create_model("ugatit_generator", light=True))
    assert n == pytest.approx(10.6e6, rel=0.02)
    assert n == 10_589_888


def test_full_generator_matches_published_architecture():
    """Full: the first MLP layer sees the flattened 64x64x256 map: 64*64*256*256 = 268,435,456
    weights instead of 256*256 = 65,536, so 10,589,888 - 65,536 + 268,435,456 = 278,959,808
    (about 279M: the reason the full model needs a big GPU). Built on the meta device."""
    with torch.device("meta"):
        n = _count(create_model("ugatit_generator", light=False))
    assert n == pytest.approx(278_959_808, rel=0.02)


def test_generator_shapes_and_range():
    g = tiny_g()
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    res = g(x)
    assert isinstance(res, GeneratorOutput) and res.mask is None
    assert res.out.shape == x.shape and res.out.abs().max() <= 1
    assert res.cam_logit.shape == (2, 2) and res.heatmap.shape == (2, 1, 8, 8)
    assert torch.equal(g.translate(x), res.out)
    res.out.mean().backward()  # light: any multiple of 4 works
    assert g(torch.zeros(1, 3, 48, 40)).out.shape == (1, 3, 48, 40)
    rebuilt = create_model("ugatit_generator", **g.config)
    assert _count(rebuilt) == _count(g)


def test_full_generator_needs_its_size():
    g = tiny_g(light=False, img_size=16)
    assert g(torch.zeros(1, 3, 16, 16)).out.shape == (1, 3, 16, 16)
    with pytest.raises(ValueError, match="16x16"):
        g(torch.zeros(1, 3, 32, 32))
    with pytest.raises(ValueError, match="multiples of 4"):
        tiny_g()(torch.zeros(1, 3, 30, 32))


def test_composite_keeps_input_bit_exactly_where_mask_is_zero():
    torch.manual_seed(1)
    x, s = torch.rand(2, 3, 8, 8) * 2 - 1, torch.rand(2, 3, 8, 8) * 2 - 1
    m = (torch.rand(2, 1, 8, 8) > 0.5).float() * torch.rand(2, 1, 8, 8)
    y = composite(s, x, m)
    zero = (m == 0).expand_as(x)
    assert zero.any() and torch.equal(y[zero], x[zero])
    assert torch.equal(composite(s, x, torch.ones_like(m)), s)


def test_mask_branch_keeps_background_where_mask_is_zero():
    g = tiny_g(mask_branch=True)
    with torch.no_grad():  # force the predicted mask to exactly 0 through the head's weights
        conv = g.to_mask[1]
        conv.weight.zero_()
        conv.bias.fill_(-200.0)  # sigmoid(-200) == 0 in float32
        x = torch.rand(2, 3, 32, 32) * 2 - 1
        res = g(x)
    assert res.mask.shape == (2, 1, 32, 32) and float(res.mask.max()) == 0.0
    assert torch.equal(res.out, x)


def test_norms_and_rho_clipping():
    torch.manual_seed(0)
    x = torch.randn(2, 4, 5, 5) * 3 + 1
    iln = ILN(4)
    y = iln(x)  # rho = 0: layer norm over (C, H, W)
    assert torch.allclose(y.mean(dim=(1, 2, 3)), torch.zeros(2), atol=1e-5)
    ada = AdaLIN(4)
    with torch.no_grad():
        ada.rho.fill_(1.0)
    y = ada(x, torch.ones(2, 4), torch.zeros(2, 4))  # rho = 1: instance norm
    assert torch.allclose(y.mean(dim=(2, 3)), torch.zeros(2, 4), atol=1e-5)
    net = torch.nn.Sequential(iln, ada)
    with torch.no_grad():
        iln.rho.fill_(-0.3)
        ada.rho.fill_(1.7)
    clip_rho(net)
    assert float(iln.rho.detach().min()) == 0.0 and float(ada.rho.detach().max()) == 1.0


@pytest.mark.parametrize("layers,size", [(5, 32), (3, 16)])
def test_discriminator_outputs(layers, size):
    torch.manual_seed(0)
    d = create_model("ugatit_discriminator", base_channels=4, n_layers=layers)
    assert isinstance(d, UGATITDiscriminator)
    logit, cam, heat = d(torch.rand(2, 3, size, size) * 2 - 1)
    assert logit.ndim == 4 and logit.shape[:2] == (2, 1) and cam.shape == (2, 2) and heat.shape[1] == 1
    (logit.mean() + cam.mean()).backward()
    with pytest.raises(ValueError, match=str(min_input_size(layers))):
        d(torch.zeros(1, 3, min_input_size(layers) - 1, min_input_size(layers) - 1))


def test_published_discriminator_receptive_sizes():
    """At 256 px the 7-layer (global) D gives 6x6 logits, the 5-layer (local) one 30x30."""
    torch.manual_seed(0)
    for layers, side in [(7, 6), (5, 30)]:
        d = create_model("ugatit_discriminator", base_channels=2, n_layers=layers)
        assert d(torch.zeros(1, 3, 256, 256))[0].shape == (1, 1, side, side)
