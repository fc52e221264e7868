"""``toonforge train-encoder``: writes a loadable encoder, refuses to overwrite, and feeds ``invert --encoder``."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from toonforge.cli.main import main
from toonforge.models.stylegan2 import Generator, save_generator
from toonforge.stylegan.encoder import load_encoder

pytestmark = pytest.mark.usefixtures("small_model_cpu")


def test_train_encoder_then_invert(tmp_path, capsys):
    torch.manual_seed(0)
    G = Generator(32, style_dim=16, n_mlp=2, channel_max=8).eval()
    gen = save_generator(tmp_path / "g.safetensors", G)
    enc = tmp_path / "enc.safetensors"
    args = ["train-encoder", str(gen), "-o", str(enc), "--steps", "3", "--batch-size", "2", "--kl-weight", "0.01"]
    assert main(args) == 0, capsys.readouterr().err
    assert "encoder:" in capsys.readouterr().err
    loaded = load_encoder(enc)
    assert (loaded.num_ws, loaded.style_dim) == (G.num_ws, G.style_dim)

    stamp = enc.stat().st_mtime_ns
    assert main(args + ["--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "already exists" in err
    assert enc.stat().st_mtime_ns == stamp
    assert main(["train-encoder", str(gen), "-o", str(tmp_path / "e.pt"), "--quiet"]) == 2
    assert ".safetensors" in capsys.readouterr().err

    Image.fromarray(np.full((32, 32, 3), 90, np.uint8)).save(tmp_path / "a.png")
    code = main(["invert", str(gen), str(tmp_path / "a.png"), "-o", str(tmp_path / "inv"), "--no-align",
                 "--encoder", str(enc), "--steps", "0", "--quiet"])
    assert code == 0, capsys.readouterr().err
    assert np.load(tmp_path / "inv" / "latents.npy").shape == (1, G.num_ws, G.style_dim)
