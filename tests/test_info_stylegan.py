"""Info-StyleGAN: the code goes into z, the head on D recovers it above chance after a short training,
the exported generator records K, and ``sample --code i`` draws type i (errors otherwise)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image

from toonforge.cli.main import main
from toonforge.stylegan.info_codes import info_code_count, with_code
from toonforge.training.info_stylegan import InfoStyleGANTask, code_accuracy
from toonforge.training.loop import LoopConfig, train
from toonforge.training.stylegan_task import StyleGANTrainConfig

TINY = dict(size=16, style_dim=16, n_mlp=2, channel_max=16)
pytestmark = pytest.mark.usefixtures("small_model_cpu")


def _data(folder):
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(8):
        small = rng.integers(0, 255, (4, 4, 3), dtype=np.uint8)
        Image.fromarray(small).resize((16, 16), Image.BILINEAR).save(folder / f"{i}.png")
    return folder


def test_with_code_replaces_the_first_entries():
    z = torch.randn(3, 8)
    out = with_code(z, torch.tensor([0, 2, 1]), 3)
    assert torch.equal(out[:, 3:], z[:, 3:])
    assert torch.allclose(out[:, :3], math.sqrt(3) * torch.eye(3)[[0, 2, 1]])


def test_code_recovered_above_chance(tmp_path):
    cfg = StyleGANTrainConfig(data=str(_data(tmp_path / "d")), **TINY, fd_samples=0, ada=False, r1=0,
                              pl_weight=0, mixing=0, lr=0.004, lr_mapping=1.0)
    task = InfoStyleGANTask(cfg, info_codes=3, lambda_info=5.0)
    loop = LoopConfig(total_steps=40, batch_size=8, progress=False, tensorboard=False, log_every=10,
                      checkpoint_every=40, seed=0)
    result = train(task, loop, runs_root=tmp_path / "runs")
    acc = code_accuracy(task.G.eval(), task.D.eval(), task.Q.eval(), n=32, seed=123)
    assert acc > 0.55, acc  # chance is 1/3 (0.72 measured)
    last = result.run_dir / "last.safetensors"
    assert info_code_count(last) == 3


def test_train_and_sample_code_cli(tmp_path, capsys):
    data = _data(tmp_path / "d")
    args = ["train-stylegan", "--data", str(data), "--size", "16", "--style-dim", "16", "--n-mlp", "2",
            "--channel-max", "16", "--steps", "2", "--batch-size", "4", "--fd-samples", "0", "--eval-every", "0",
            "--checkpoint-every", "2", "--runs", str(tmp_path / "runs"), "--info-codes", "2"]
    assert main(args) == 0
    gen = next((tmp_path / "runs").glob("*/last.safetensors"))
    assert main(["sample", str(gen), "--code", "1", "-n", "2", "-o", str(tmp_path / "s"), "--quiet"]) == 0
    assert np.load(tmp_path / "s" / "code-1.npy").shape == (2, 6, 16)
    assert len(list((tmp_path / "s").glob("latent*.png"))) == 2
    capsys.readouterr()
    from toonforge.models.stylegan2 import Generator, save_generator

    plain = save_generator(tmp_path / "plain.safetensors", Generator(16, style_dim=16, n_mlp=2, channel_max=16))
    for argv in (["sample", str(gen), "--code", "2", "-n", "1", "-o", str(tmp_path / "b")],
                 ["sample", str(plain), "--code", "0", "-n", "1", "-o", str(tmp_path / "c")],
                 [*args[:-1], "1"]):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: "), (argv, err)
