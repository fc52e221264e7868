"""Where a StyleGAN2 run starts: a rosinality train.py checkpoint gives its Adam states and ADA p
where shapes fit; a separate source discriminator; refusals."""

from __future__ import annotations

import argparse

import numpy as np
import pytest
import torch
from PIL import Image

from toonforge.errors import InputError
from toonforge.models.stylegan2 import Discriminator, Generator, save_discriminator
from toonforge.training.stylegan_task import StyleGANTask, StyleGANTrainConfig

TINY = dict(size=32, style_dim=16, n_mlp=2, channel_max=8)
pytestmark = pytest.mark.usefixtures("small_model_cpu")


def _styles(folder):
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(4):
        Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    return folder


def _rosinality_ckpt(path, G, D):
    """What rosinality's train.py saves: g, d, g_ema, Adam over .parameters(), args, ada_aug_p."""
    g_optim = torch.optim.Adam(G.parameters(), lr=0.002, betas=(0.0, 0.99))
    d_optim = torch.optim.Adam(D.parameters(), lr=0.002, betas=(0.0, 0.99))
    for net, opt in ((G, g_optim), (D, d_optim)):
        for _ in range(2):
            opt.zero_grad()
            sum(p.square().sum() for p in net.parameters()).backward()
            opt.step()
    torch.save({"g": G.state_dict(), "d": D.state_dict(), "g_ema": G.state_dict(), "g_optim": g_optim.state_dict(),
                "d_optim": d_optim.state_dict(), "args": argparse.Namespace(size=32), "ada_aug_p": 0.25}, path)
    return g_optim, d_optim


def test_rosinality_checkpoint_keeps_adam_states_and_ada_p(tmp_path, capsys):
    torch.manual_seed(0)
    G, D = Generator(**TINY), Discriminator(32, channel_max=8)
    g_optim, d_optim = _rosinality_ckpt(tmp_path / "050000.pt", G, D)
    cfg = StyleGANTrainConfig(data=str(_styles(tmp_path / "styles")), resume_from=str(tmp_path / "050000.pt"),
                              fd_samples=0, freeze_d=1)
    task = StyleGANTask(cfg)
    task.build(torch.device("cpu"))
    note = capsys.readouterr().err
    assert "050000.pt" in note and "ADA p 0.25" in note and task.ada.p == 0.25
    n_g = sum(1 for _ in G.parameters())
    n_d = sum(1 for p in task.D.parameters() if p.requires_grad)  # FreezeD leaves the first block out
    assert f"G Adam states {n_g}/{n_g}" in note and f"D Adam states {n_d}/{n_d}" in note
    saved = list(G.parameters())
    for (name, p), old in zip(task.G.named_parameters(), saved):
        st = task.opt_g.state[p]
        torch.testing.assert_close(st["exp_avg"], g_optim.state[old]["exp_avg"], msg=name)
        assert float(st["step"]) == 2
    frozen = task.D.convs[0][0].weight
    assert not frozen.requires_grad and frozen not in task.opt_d.state


def test_states_that_do_not_fit_are_left_out(tmp_path, capsys):
    torch.manual_seed(0)
    G, D = Generator(**TINY), Discriminator(32, channel_max=8)
    _rosinality_ckpt(tmp_path / "a.pt", G, D)
    ck = torch.load(tmp_path / "a.pt", weights_only=False)
    ck["g_optim"]["state"][0]["exp_avg"] = torch.zeros(3)  # a state of another shape
    torch.save(ck, tmp_path / "a.pt")
    task = StyleGANTask(StyleGANTrainConfig(data=str(_styles(tmp_path / "s")), resume_from=str(tmp_path / "a.pt"),
                                            fd_samples=0, ada_p=0.1))
    task.build(torch.device("cpu"))
    n_g = sum(1 for _ in G.parameters())
    note = capsys.readouterr().err
    assert f"G Adam states {n_g - 1}/{n_g}" in note and "ADA p" not in note and task.ada.p == 0.1


def test_separate_source_discriminator(tmp_path):
    torch.manual_seed(0)
    G, D = Generator(**TINY), Discriminator(32, channel_max=8, stddev_group=8)
    from toonforge.models.stylegan2 import save_generator

    save_generator(tmp_path / "G_ema.safetensors", G)
    save_discriminator(tmp_path / "D.safetensors", D)
    data = str(_styles(tmp_path / "s"))
    task = StyleGANTask(StyleGANTrainConfig(data=data, resume_from=str(tmp_path / "G_ema.safetensors"),
                                            source_d=str(tmp_path / "D.safetensors"), fd_samples=0))
    task.build(torch.device("cpu"))
    assert task.D.stddev_group == 8
    assert all(torch.equal(a, b) for a, b in zip(task.D.state_dict().values(), D.state_dict().values()))
    with pytest.raises(InputError, match="--source-d needs --resume-from"):
        StyleGANTask(StyleGANTrainConfig(data=data, source_d=str(tmp_path / "D.safetensors"), fd_samples=0))
