"""StyleGAN2 checkpoints: safetensors round trip, rosinality .pt files, architecture inference, refusals."""

from __future__ import annotations

import argparse
import os
import pickle

import pytest
import torch

from toonforge.errors import CheckpointError, InputError
from toonforge.models.stylegan2 import (
    Discriminator,
    Generator,
    infer_generator_config,
    load_discriminator,
    load_generator,
    save_discriminator,
    save_generator,
)
from toonforge.models.stylegan2.checkpoint import infer_discriminator_config

TINY = {"style_dim": 16, "n_mlp": 3, "channel_max": 8}


pytestmark = pytest.mark.usefixtures("small_model_cpu")


def _randomized(net: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Every parameter random (noise strengths and biases too), so misplaced weights would show."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.3 + (1.0 if p.ndim == 1 and p.numel() > 3 else 0.0))
    return net.eval()


@pytest.fixture(scope="module")
def nets():
    torch.manual_seed(0)
    return _randomized(Generator(32, **TINY), 1), _randomized(Discriminator(32, channel_max=8), 2)


def _same_images(G1: Generator, G2: Generator) -> None:
    z = G1.sample_z(2, seed=3)
    with torch.no_grad():
        a, b = G1(z, randomize_noise=False), G2(z, randomize_noise=False)
    torch.testing.assert_close(a, b, atol=0, rtol=0)


def test_safetensors_round_trip(tmp_path, nets):
    G, D = nets
    G.latent_avg = G.mean_latent(256)
    try:
        path = save_generator(tmp_path / "g.safetensors", G)
        G2 = load_generator(path)
    finally:
        G.latent_avg = None
    assert G2.config == G.config
    torch.testing.assert_close(G2.latent_avg, G.mean_latent(256))
    _same_images(G, G2)
    D2 = load_discriminator(save_discriminator(tmp_path / "d.safetensors", D))
    assert D2.config == D.config
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(D2(x), D(x), atol=0, rtol=0)
    with pytest.raises(CheckpointError, match="safetensors"):
        save_generator(tmp_path / "g.pt", G)


def test_rosinality_pt_dict_loads_weights_only(tmp_path, nets):
    G, D = nets
    latent_avg = torch.randn(G.style_dim)
    path = tmp_path / "550000.pt"
    # What rosinality's train.py writes: networks, optimizer states and the argparse namespace.
    opt = torch.optim.Adam(G.parameters(), lr=1e-3)
    torch.save(
        {"g": G.state_dict(), "d": D.state_dict(), "g_ema": G.state_dict(), "latent_avg": latent_avg,
         "g_optim": opt.state_dict(), "args": argparse.Namespace(size=32, r1=10.0)},
        path,
    )
    G2 = load_generator(path)
    assert G2.config["size"] == 32 and G2.config["style_dim"] == 16 and G2.config["n_mlp"] == 3
    torch.testing.assert_close(G2.latent_avg, latent_avg.reshape(1, -1))
    _same_images(G, G2)
    _same_images(G, load_generator(path, key="g"))
    D2 = load_discriminator(path)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(D2(x), D(x), atol=0, rtol=0)
    # A flat state dict (here with a DistributedDataParallel prefix) works too.
    flat = tmp_path / "flat.pth"
    torch.save({f"module.{k}": v for k, v in G.state_dict().items()}, flat)
    _same_images(G, load_generator(flat))


def test_old_files_without_buffers_get_fixed_kernels(tmp_path, nets):
    G, _ = nets
    sd = {k: v for k, v in G.state_dict().items() if not (k.endswith(".kernel") or k.startswith("noises."))}
    torch.save({"g_ema": sd}, tmp_path / "old.pt")
    G2 = load_generator(tmp_path / "old.pt")
    assert torch.equal(G2.convs[0].conv.blur.kernel, G.convs[0].conv.blur.kernel)


@pytest.mark.parametrize("size,mult", [(256, 1), (256, 2), (1024, 2), (64, 1)])
def test_architecture_inference_from_published_shapes(size, mult):
    with torch.device("meta"):
        G, D = Generator(size, channel_multiplier=mult), Discriminator(size, channel_multiplier=mult)
    want = {"size": size, "style_dim": 512, "n_mlp": 8, "channel_multiplier": mult, "channel_max": 512}
    assert infer_generator_config(G.state_dict()) == want
    assert infer_discriminator_config(D.state_dict()) == {"size": size, "channel_multiplier": mult, "channel_max": 512}


def test_wrong_architecture_is_a_one_line_checkpoint_error(tmp_path, nets):
    G, D = nets
    torch.save({"g_ema": D.state_dict()}, tmp_path / "d_as_g.pt")
    torch.save({"d": G.state_dict()}, tmp_path / "g_as_d.pt")
    bad = dict(G.state_dict())
    bad["convs.1.conv.weight"] = bad["convs.1.conv.weight"][:, :, :4]
    torch.save({"g_ema": bad}, tmp_path / "bad_shape.pt")
    missing = {k: v for k, v in G.state_dict().items() if k != "to_rgbs.0.bias"}
    torch.save({"g_ema": missing}, tmp_path / "missing.pt")
    cases = [
        (lambda: load_generator(tmp_path / "d_as_g.pt"), "not a StyleGAN2 generator"),
        (lambda: load_discriminator(tmp_path / "g_as_d.pt"), "not a StyleGAN2 discriminator"),
        (lambda: load_generator(tmp_path / "bad_shape.pt"), "channel widths|does not fit"),
        (lambda: load_generator(tmp_path / "missing.pt"), "missing keys"),
        (lambda: load_generator(tmp_path / "d_as_g.pt", key="g"), "no 'g' weights"),
        (lambda: load_generator(tmp_path / "nope.pt"), "not found"),
    ]
    for load, pattern in cases:
        with pytest.raises(CheckpointError, match=pattern) as info:
            load()
        assert "\n" not in str(info.value)
    # A config in the metadata that disagrees with the tensors is caught as well.
    path = save_generator(tmp_path / "g.safetensors", G)
    from safetensors.torch import load_file, save_file

    save_file(load_file(str(path)), str(tmp_path / "lie.safetensors"),
              metadata={"toonforge_model": "stylegan2_generator", "config": '{"size": 64, "style_dim": 16}'})
    with pytest.raises(CheckpointError, match="does not fit"):
        load_generator(tmp_path / "lie.safetensors")
    with pytest.raises(CheckpointError, match="not a StyleGAN2 discriminator"):
        load_discriminator(path)


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_unsafe_files_are_refused(tmp_path):
    evil_pt = tmp_path / "evil.pt"
    with evil_pt.open("wb") as f:
        pickle.dump({"g_ema": _Evil()}, f)
    with pytest.raises(CheckpointError, match="cannot load evil.pt"):
        load_generator(evil_pt)
    evil_pkl = tmp_path / "evil.pkl"
    evil_pkl.write_bytes(evil_pt.read_bytes())
    with pytest.raises(InputError, match="can run code when loaded; pass --allow-pickle"):
        load_generator(evil_pkl)
    with pytest.raises(CheckpointError, match="posix.system|os.system|not allowed"):
        load_generator(evil_pkl, allow_pickle=True)
