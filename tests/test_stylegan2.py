"""StyleGAN2 networks: ops against their definition, shapes at every resolution, latent spaces,
determinism, style mixing, layer maps, minibatch stddev, parameter counts and the published key layout."""

from __future__ import annotations

import pytest
import torch

from toonforge.models.factory import create_model, list_models
from toonforge.models.stylegan2 import Discriminator, Generator, minibatch_stddev
from toonforge.models.stylegan2.layers import ModulatedConv2d
from toonforge.models.stylegan2.ops import fused_leaky_relu, make_kernel, upfirdn2d

TINY = {"style_dim": 16, "n_mlp": 2, "channel_max": 8}


pytestmark = pytest.mark.usefixtures("small_model_cpu")


@pytest.fixture(scope="module")
def g64():
    torch.manual_seed(0)
    G = Generator(64, **TINY).eval()
    with torch.no_grad():  # non-zero noise strengths so that noise handling is exercised
        for i, conv in enumerate([G.conv1, *G.convs]):
            conv.noise.weight.fill_(0.1 + 0.01 * i)
    return G


def _upfirdn_by_definition(x, k, up, down, pad):
    """Zero-insert, pad (negative crops), true 2-D convolution, keep every ``down``-th sample."""
    n, c, h, w = x.shape
    z = torch.zeros(n, c, h * up, w * up)
    z[:, :, ::up, ::up] = x
    p0, p1 = pad
    z = torch.nn.functional.pad(z, (p0, p1, p0, p1))
    kh, kw = k.shape
    oh, ow = z.shape[2] - kh + 1, z.shape[3] - kw + 1
    out = torch.zeros(n, c, oh, ow)
    for i in range(kh):
        for j in range(kw):
            out += k[kh - 1 - i, kw - 1 - j] * z[:, :, i : i + oh, j : j + ow]
    return out[:, :, ::down, ::down]


@pytest.mark.parametrize(
    "up,down,pad", [(1, 1, (1, 1)), (2, 1, (2, 1)), (1, 2, (2, 2)), (1, 2, (1, 1)), (2, 1, (-1, 0))]
)
def test_upfirdn2d_matches_definition(up, down, pad):
    torch.manual_seed(1)
    x = torch.randn(2, 3, 7, 7)
    k = torch.rand(4, 4)  # asymmetric, so a missing flip would show
    ref = _upfirdn_by_definition(x, k, up, down, pad)
    out = upfirdn2d(x, k, up=up, down=down, pad=pad)
    assert out.shape == ref.shape
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)


def test_kernel_and_activation():
    k = make_kernel([1, 3, 3, 1])
    assert k.shape == (4, 4) and abs(float(k.sum()) - 1) < 1e-6 and float(k[1, 1]) == pytest.approx(9 / 64)
    x = torch.tensor([[-1.0, 2.0]])
    y = fused_leaky_relu(x, torch.tensor([0.5, -0.5]))
    torch.testing.assert_close(y, torch.tensor([[-0.1, 1.5]]) * 2**0.5)


@pytest.mark.parametrize("upsample", [False, True])
@pytest.mark.parametrize("demodulate", [False, True])
def test_modulated_conv_grouped_equals_shared_weight(upsample, demodulate):
    torch.manual_seed(2)
    m = ModulatedConv2d(5, 6, 3, 7, demodulate=demodulate, upsample=upsample)
    x, w = torch.randn(3, 5, 8, 8), torch.randn(3, 7)
    a = m(x, w)
    m.fused = False
    torch.testing.assert_close(m(x, w), a, atol=1e-5, rtol=1e-4)
    assert a.shape == (3, 6, 16 if upsample else 8, 16 if upsample else 8)
    if demodulate:  # demodulation: unit-variance outputs for unit-variance inputs, whatever the style scale
        big = ModulatedConv2d(64, 64, 3, 7, demodulate=True)
        y = big(torch.randn(4, 64, 16, 16), torch.randn(4, 7) * 10)
        assert 0.7 < float(y.detach().std()) < 1.3


@pytest.mark.parametrize("size", [32, 64, 128, 256, 512, 1024])
def test_shapes_at_every_resolution(size):
    torch.manual_seed(0)
    small = {"style_dim": 16, "n_mlp": 1, "channel_max": 4}
    G, D = Generator(size, **small), Discriminator(size, channel_max=4)
    assert G.num_ws == 2 * size.bit_length() - 4 and len(G.layer_resolutions()) == G.num_ws
    with torch.no_grad():
        img, rgbs = G.synthesis(G.mapping(torch.randn(1, 16)), return_rgb_layers=True)
        logits = D(img)
    assert img.shape == (1, 3, size, size) and torch.isfinite(img).all()
    assert [r.shape[-1] for r in rgbs] == [2**i for i in range(2, size.bit_length())]
    assert logits.shape == (1, 1) and torch.isfinite(logits).all()


def test_output_range_and_gradients(g64):
    D = Discriminator(64, channel_max=8)
    img = g64(g64.sample_z(2, seed=0))
    assert img.shape == (2, 3, 64, 64) and float(img.detach().abs().mean()) < 3  # roughly [-1, 1] at init
    D(img).sum().backward()
    grads = [p.grad for p in g64.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    g64.zero_grad(set_to_none=True)


def test_shared_weight_modconv_gives_the_same_images(g64):
    z, noise = g64.sample_z(2, seed=9), g64.make_noise(seed=9)
    with torch.no_grad():
        a = g64(z, noise=noise)
        g64.set_fused_modconv(False)
        try:
            b = g64(z, noise=noise)
        finally:
            g64.set_fused_modconv(True)
    torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


def test_w_and_wplus_agree(g64):
    noise = g64.make_noise(seed=5)
    w = g64.mapping(g64.sample_z(2, seed=1))
    with torch.no_grad():
        a = g64.synthesis(w, noise=noise)
        b = g64.synthesis(w.unsqueeze(1).repeat(1, g64.num_ws, 1), noise=noise)
        c = g64(w, input_space="w", noise=noise)
    torch.testing.assert_close(a, b, atol=0, rtol=0)
    torch.testing.assert_close(a, c, atol=0, rtol=0)


def test_zplus_with_equal_layers_equals_z(g64):
    z = g64.sample_z(2, seed=2)
    with torch.no_grad():
        a = g64(z, input_space="z", randomize_noise=False)
        b = g64(z.unsqueeze(1).repeat(1, g64.num_ws, 1), input_space="z+", randomize_noise=False)
        c = g64([z] * g64.num_ws, input_space="z", randomize_noise=False)
    torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)  # batched matmuls of other sizes round differently
    torch.testing.assert_close(a, c, atol=1e-4, rtol=1e-4)


def test_truncation(g64):
    z = g64.sample_z(3, seed=3)
    avg = g64.mean_latent(512, seed=0)
    assert avg.shape == (1, g64.style_dim)
    with torch.no_grad():
        at_mean = g64.synthesis(avg.expand(3, -1), randomize_noise=False)
        out = g64(z, truncation=0.0, truncation_latent=avg, randomize_noise=False)
        torch.testing.assert_close(out, at_mean, atol=1e-6, rtol=1e-5)
        # Without an explicit latent: latent_avg when set, else mean_latent() (4096 samples, seed 0).
        ref = g64.synthesis(g64.mean_latent().expand(3, -1), randomize_noise=False)
        torch.testing.assert_close(g64(z, truncation=0.0, randomize_noise=False), ref, atol=1e-6, rtol=1e-5)
        g64.latent_avg = avg
        try:
            torch.testing.assert_close(g64(z, truncation=0.0, randomize_noise=False), at_mean, atol=1e-6, rtol=1e-5)
        finally:
            g64.latent_avg = None
    w = g64.mapping(z)
    torch.testing.assert_close(g64.mapping(z, truncation=0.5, truncation_latent=avg), avg + 0.5 * (w - avg))


def test_sampling_is_deterministic_by_seed(g64):
    with torch.no_grad():
        a = g64(g64.sample_z(2, seed=7), noise=g64.make_noise(seed=11))
        b = g64(g64.sample_z(2, seed=7), noise=g64.make_noise(seed=11))
        c = g64(g64.sample_z(2, seed=8), noise=g64.make_noise(seed=11))
        d = g64(g64.sample_z(2, seed=7), noise=g64.make_noise(seed=12))
    assert torch.equal(a, b)
    assert not torch.allclose(a, c) and not torch.allclose(a, d)
    torch.manual_seed(0)
    g1 = Generator(32, **TINY)
    torch.manual_seed(0)
    g2 = Generator(32, **TINY)
    assert all(torch.equal(x, y) for x, y in zip(g1.state_dict().values(), g2.state_dict().values()))


def test_style_mix_takes_layers_from_the_right_source(g64):
    w1, w2 = g64.mapping(g64.sample_z(2, seed=4)), g64.mapping(g64.sample_z(2, seed=5))
    mixed = g64.style_mix(w1, w2, range(4, 8))
    assert mixed.shape == (2, g64.num_ws, g64.style_dim)
    for i in range(g64.num_ws):
        src = w2 if 4 <= i < 8 else w1
        assert torch.equal(mixed[:, i], src)
    noise = g64.make_noise(seed=0)
    with torch.no_grad():
        all_from_w2 = g64.synthesis(g64.style_mix(w1, w2, range(g64.num_ws)), noise=noise)
        torch.testing.assert_close(all_from_w2, g64.synthesis(w2, noise=noise), atol=0, rtol=0)
    with pytest.raises(ValueError, match="style_mix layers"):
        g64.style_mix(w1, w2, [g64.num_ws])


def test_layer_maps(g64):
    # 64 px: ws 0 -> conv1 (4), 1 -> to_rgb1 + convs.0 (8), 2 -> convs.1 (8), ..., 9 -> to_rgbs.3 (64)
    assert g64.layer_resolutions() == [4, 8, 8, 16, 16, 32, 32, 64, 64, 64]
    assert g64.ws_modules()[1] == ["to_rgb1", "convs.0"] and g64.ws_modules()[-1] == ["to_rgbs.3"]
    assert g64.param_resolution("style.1.weight") is None
    assert g64.param_resolution("input.input") == 4 and g64.param_resolution("to_rgb1.bias") == 4
    assert g64.param_resolution("convs.0.conv.weight") == 8 and g64.param_resolution("convs.7.noise.weight") == 64
    assert g64.param_resolution("to_rgbs.2.conv.weight") == 32
    for key, t in g64.state_dict().items():
        res = g64.param_resolution(key)
        if key.startswith("noises."):
            assert res == t.shape[-1]
        if key.startswith("convs.") and key.endswith("activate.bias"):
            assert g64.channels[res] == t.shape[0]
    seen = {k.split(".conv.")[0] for k in g64.state_dict() if ".conv." in k}
    assert seen == {m for mods in g64.ws_modules() for m in mods}


def test_minibatch_stddev_groups():
    torch.manual_seed(0)
    x = torch.randn(8, 4, 2, 2)
    y = minibatch_stddev(x, 4)
    assert y.shape == (8, 5, 2, 2) and torch.equal(y[:, :4], x)
    # Sample n is grouped with n + 2, n + 4, n + 6 (group index n % (N / G)).
    expect = torch.sqrt(x[0::2].var(dim=0, unbiased=False) + 1e-8).mean()
    torch.testing.assert_close(y[0, 4], expect.expand(2, 2))
    torch.testing.assert_close(y[6, 4], expect.expand(2, 2))
    # 6 is not divisible by 4: groups of 3 (samples n, n + 2, n + 4).
    y6 = minibatch_stddev(x[:6], 4)
    torch.testing.assert_close(y6[1, 4, 0, 0], torch.sqrt(x[1:6:2].var(dim=0, unbiased=False) + 1e-8).mean())


@pytest.mark.parametrize("batch", [1, 3, 5, 6])
def test_discriminator_any_batch(batch):
    D = Discriminator(32, channel_max=8)
    assert D(torch.randn(batch, 3, 32, 32)).shape == (batch, 1)
    with pytest.raises(ValueError, match="expected"):
        D(torch.randn(2, 3, 64, 64))


def test_discriminator_blocks_from_input():
    D = Discriminator(64, channel_max=8)
    blocks = D.blocks_from_input()
    assert len(blocks) == 1 + 4 + 2 and blocks[0] is D.convs[0] and blocks[-1] is D.final_linear
    assert D.block_resolutions() == [64, 64, 32, 16, 8, 4, 4]
    params = {id(p) for b in blocks for p in b.parameters()}
    assert params == {id(p) for p in D.parameters()}


def test_registry_and_config_round_trip():
    assert {"stylegan2_generator", "stylegan2_discriminator"} <= set(list_models())
    G = create_model("stylegan2_generator", size=32, **TINY)
    G2 = create_model("stylegan2_generator", **G.config)
    assert G2.config == G.config and sum(p.numel() for p in G2.parameters()) == sum(p.numel() for p in G.parameters())
    D = create_model("stylegan2_discriminator", size=32, channel_max=8)
    assert create_model("stylegan2_discriminator", **D.config).config == D.config


def test_bad_arguments(g64):
    with pytest.raises(ValueError, match="power of two"):
        Generator(48)
    with pytest.raises(ValueError, match="input_space"):
        g64(torch.randn(1, 16), input_space="s")
    with pytest.raises(ValueError, match="ws must be"):
        g64.synthesis(torch.randn(1, 3, 16))
    with pytest.raises(ValueError, match="z must be"):
        g64.mapping(torch.randn(1, 15))
    with pytest.raises(ValueError, match="noise must hold"):
        g64.synthesis(torch.randn(1, 16), noise=[None])
