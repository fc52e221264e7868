"""The hierarchical variational Z+ encoder: shapes and groups, KL, training lowers its loss and repeats for
a seed, refinement by optimization, save/load, and ``toonforge invert --encoder``."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from toonforge.cli.main import main
from toonforge.errors import CheckpointError
from toonforge.models.stylegan2 import Generator, save_generator
from toonforge.stylegan.encoder import (
    encode,
    encoder_for,
    invert_encoder,
    kl_divergence,
    load_encoder,
    save_encoder,
    split_groups,
    train_encoder,
)

TINY = {"style_dim": 16, "n_mlp": 2, "channel_max": 8}
pytestmark = pytest.mark.usefixtures("small_model_cpu")


@pytest.fixture(scope="module")
def G():
    torch.manual_seed(0)
    return Generator(32, **TINY).eval()


@pytest.fixture(scope="module")
def trained(G):
    return train_encoder(G, steps=40, batch=8, lr=3e-3, seed=0)


def test_shapes_groups_and_kl(G):
    assert split_groups(18) == [6, 6, 6] and split_groups(8) == [3, 3, 2]
    enc = encoder_for(G)
    mu, logvar = enc(torch.zeros(2, 3, 48, 48))
    assert mu.shape == logvar.shape == (2, G.num_ws, G.style_dim)
    assert float(kl_divergence(torch.zeros(3, 4), torch.zeros(3, 4))) == 0.0
    assert float(kl_divergence(torch.randn(3, 4), torch.randn(3, 4))) > 0


def test_training_lowers_loss_and_is_deterministic(G, trained):
    enc, hist = trained
    first = np.mean([h["loss"] for h in hist[:8]])
    last = np.mean([h["loss"] for h in hist[-8:]])
    assert last < 0.9 * first
    assert set(hist[0]) == {"loss", "pixel", "latent", "kl"}
    again, hist2 = train_encoder(G, steps=3, batch=2, seed=0)
    _, hist3 = train_encoder(G, steps=3, batch=2, seed=0)
    assert hist2 == hist3
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    assert torch.equal(encode(enc, x), encode(enc, x))
    assert not torch.equal(encode(enc, x, sample=True, seed=1), encode(enc, x))


def test_refinement_lowers_the_encoder_loss(G, trained, tmp_path):
    enc, _ = trained
    with torch.no_grad():
        target = G(G.sample_z(1, seed=7), randomize_noise=False).clamp(-1, 1)
    direct = invert_encoder(G, enc, target)
    assert direct.ws.shape == (1, G.num_ws, G.style_dim)
    refined = invert_encoder(G, enc, target, refine_steps=15, w_perceptual=0.0, noise_reg=0.0, n_mean=256,
                             optimize_noise=False)
    assert refined.final_loss < direct.final_loss
    back = load_encoder(save_encoder(tmp_path / "enc.safetensors", enc))
    x = torch.rand(1, 3, 32, 32)
    assert torch.equal(encode(back, x), encode(enc, x))
    save_generator(tmp_path / "g.safetensors", G)
    with pytest.raises(CheckpointError, match="not a toonforge Z\\+ encoder"):
        load_encoder(tmp_path / "g.safetensors")


def test_invert_cli_with_encoder(G, trained, tmp_path, capsys):
    enc_file = save_encoder(tmp_path / "enc.safetensors", trained[0])
    gen = save_generator(tmp_path / "g.safetensors", G)
    Image.fromarray(np.full((32, 32, 3), 90, np.uint8)).save(tmp_path / "a.png")
    args = ["invert", gen, tmp_path / "a.png", "-o", tmp_path / "out", "--no-align", "--encoder", enc_file,
            "--steps", "2", "--w-perceptual", "0", "--quiet"]
    code = main([str(a) for a in args])
    assert code == 0, capsys.readouterr().err
    assert np.load(tmp_path / "out" / "latents.npy").shape == (1, G.num_ws, G.style_dim)
