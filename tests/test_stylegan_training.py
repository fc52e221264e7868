"""StyleGAN2 training: losses, CLI runs with exact resume, FreezeD, transfer, early stopping."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from toonforge.cli.main import main
from toonforge.errors import InputError
from toonforge.models.stylegan2 import Discriminator, Generator, load_generator, save_generator
from toonforge.training.checkpoint import load_checkpoint
from toonforge.training.loop import LoopConfig, train
from toonforge.training.stylegan_losses import (
    d_logistic_loss,
    g_nonsaturating_loss,
    path_length_penalty,
    r1_penalty,
)
from toonforge.training.stylegan_task import StyleGANTask, StyleGANTrainConfig

TINY = dict(size=32, style_dim=16, n_mlp=2, channel_max=8)
TINY_ARGS = ["--size", "32", "--style-dim", "16", "--n-mlp", "2", "--channel-max", "8"]


def make_styles(folder: Path, n: int = 8) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        small = rng.integers(0, 255, (4, 5, 3), dtype=np.uint8)
        Image.fromarray(small).resize((40, 48), Image.BILINEAR).save(folder / f"{i:02d}.png")
    return folder


def tiny_cfg(data: Path, **kw) -> StyleGANTrainConfig:
    return StyleGANTrainConfig(data=str(data), **{**TINY, "fd_samples": 0, "ada_kimg": 0.01, **kw})


def loop_cfg(steps: int, **kw) -> LoopConfig:
    return LoopConfig(total_steps=steps, batch_size=4, progress=False, tensorboard=False, log_every=1, **kw)


# ---- losses ------------------------------------------------------------------------------------
def test_nonsaturating_losses_on_known_logits():
    zero = torch.zeros(3, 1)
    assert d_logistic_loss(zero, zero).item() == pytest.approx(2 * math.log(2))
    assert g_nonsaturating_loss(zero).item() == pytest.approx(math.log(2))
    big = torch.full((2, 1), 30.0)
    assert d_logistic_loss(big, -big).item() == pytest.approx(0.0, abs=1e-10)
    assert g_nonsaturating_loss(-big).item() == pytest.approx(30.0, rel=1e-6)


def test_r1_constant_and_linear_discriminators():
    x = torch.randn(4, 3, 8, 8, requires_grad=True)
    assert r1_penalty(torch.full((4, 1), 2.0) + 0 * x.sum(), x).item() == 0.0
    assert r1_penalty(torch.ones(4, 1, requires_grad=True), x).item() == 0.0  # input unused
    w = torch.randn(3, 8, 8, requires_grad=True)
    logits = (x * w).flatten(1).sum(1, keepdim=True) + 1.0  # D(x) = <w, x> + 1: gradient w per sample
    penalty = r1_penalty(logits, x)
    assert penalty.item() == pytest.approx(float(w.detach().square().sum()), rel=1e-5)
    penalty.backward()  # differentiable into D's weights: d||w||^2 / dw = 2w
    torch.testing.assert_close(w.grad, 2 * w.detach())


def test_path_length_penalty_and_running_mean():
    torch.manual_seed(0)
    ws = torch.randn(3, 4, 5, requires_grad=True)
    images = torch.einsum("nld,cd->nc", ws, torch.randn(12, 5)).reshape(3, 3, 2, 2).tanh()
    penalty, mean, lengths = path_length_penalty(images, ws, mean=0.0, decay=0.01)
    assert torch.isfinite(penalty) and lengths.shape == (3,) and (lengths > 0).all()
    assert mean.item() == pytest.approx(0.01 * lengths.mean().item(), rel=1e-6)
    _, mean2, lengths2 = path_length_penalty(images, ws, mean=mean, decay=0.5)
    assert mean2.item() == pytest.approx(mean.item() + 0.5 * (lengths2.mean().item() - mean.item()), rel=1e-6)
    penalty.backward()
    assert ws.grad is not None and torch.isfinite(ws.grad).all()


# ---- CLI: a run, a stop, an exact resume --------------------------------------------------------
def _cli(data: Path, runs: Path, steps: int, *extra: str) -> list[str]:
    return ["train-stylegan", "--data", str(data), *TINY_ARGS, "--steps", str(steps), "--batch-size", "4",
            "--ada-kimg", "0.01", "--ada-p", "0.2", "--eval-every", "2", "--fd-samples", "4",
            "--log-every", "1", "--runs", str(runs), *extra]


def test_cli_trains_stops_and_resumes_exactly(tmp_path, capsys, small_model_cpu):
    data = make_styles(tmp_path / "style")
    assert main(_cli(data, tmp_path / "ref", 5)) == 0
    out = capsys.readouterr().out
    ref = tmp_path / "ref" / "00000-stylegan2"
    assert f"best generator: {ref / 'best.safetensors'}" in out.splitlines()[-1]
    stats = [json.loads(s) for s in (ref / "stats.jsonl").read_text().splitlines()]
    keys = set().union(*stats)
    assert {"loss/D", "loss/G", "loss/r1", "loss/pl", "ada/p", "val/fd"} <= keys
    assert load_generator(ref / "last.safetensors").config["size"] == 32

    assert main(_cli(data, tmp_path / "cut", 5, "--max-minutes", "0")) == 0  # stops after step 1
    cut = tmp_path / "cut" / "00000-stylegan2"
    assert load_checkpoint(cut / "checkpoints" / "latest.pt")["step"] == 1
    assert "stopped early" in capsys.readouterr().out
    assert main(_cli(data, tmp_path / "cut", 5, "--resume", str(cut))) == 0
    a, b = (load_checkpoint(r / "checkpoints" / "latest.pt") for r in (ref, cut))
    assert b["step"] == 5 and a["extra"] == b["extra"]
    for part in ("modules", "ema"):
        for name in a[part]:
            for k, v in a[part][name].items():
                torch.testing.assert_close(b[part][name][k], v, rtol=0, atol=0)
    assert json.loads((cut / "best.json").read_text()) == json.loads((ref / "best.json").read_text())


# ---- FreezeD, per-layer learning rates ---------------------------------------------------------
def test_freeze_d_keeps_the_first_blocks(tmp_path, small_model_cpu):
    class Snapshot(StyleGANTask):
        def build(self, device):
            super().build(device)
            self.before = [[p.detach().clone() for p in b.parameters()] for b in self.D.blocks_from_input()]

    task = Snapshot(tiny_cfg(make_styles(tmp_path / "s"), freeze_d=2, ada_p=0.5))
    train(task, loop_cfg(3), runs_root=tmp_path / "runs")
    blocks = task.D.blocks_from_input()
    for i, (block, before) in enumerate(zip(blocks, task.before)):
        same = all(torch.equal(p, q) for p, q in zip(block.parameters(), before))
        assert same == (i < 2), f"block {i}"
        assert all(p.requires_grad == (i >= 2) for p in block.parameters())
    in_opt = {id(p) for g in task.opt_d.param_groups for p in g["params"]}
    assert not any(id(p) in in_opt for b in blocks[:2] for p in b.parameters())
    with pytest.raises(InputError, match="freeze"):
        StyleGANTask(tiny_cfg(tmp_path / "s", freeze_d=6)).build(torch.device("cpu"))


def test_per_layer_learning_rates(tmp_path):
    task = StyleGANTask(tiny_cfg(make_styles(tmp_path / "s"), lr=0.01, lr_mapping=0.02, lr_resolution={4: 0, 8: 0.5}))
    task.build(torch.device("cpu"))
    ratio = 4 / 5  # lazy path-length regularisation every 4 steps
    lrs = {id(p): g["lr"] for g in task.opt_g.param_groups for p in g["params"]}
    for key, p in task.G.named_parameters():
        res = task.G.param_resolution(key)
        if key.startswith("style."):
            assert lrs[id(p)] == pytest.approx(0.01 * 2 * ratio)  # 0.02 / lr_mlp 0.01
        elif res == 4:
            assert id(p) not in lrs and not p.requires_grad
        else:
            assert lrs[id(p)] == pytest.approx(0.01 * (0.5 if res == 8 else 1.0) * ratio)
    assert task.opt_g.param_groups[0]["betas"][1] == pytest.approx(0.99**ratio)


# ---- transfer learning -------------------------------------------------------------------------
def test_transfer_starts_from_the_source(tmp_path, small_model_cpu):
    data = make_styles(tmp_path / "s")
    torch.manual_seed(5)
    src = Generator(32, 16, 2, channel_max=8)
    save_generator(tmp_path / "src.safetensors", src)
    task = StyleGANTask(StyleGANTrainConfig(data=str(data), resume_from=str(tmp_path / "src.safetensors")))
    assert (task.cfg.size, task.cfg.style_dim, task.cfg.n_mlp, task.cfg.channel_max) == (32, 16, 2, 8)
    task.build(torch.device("cpu"))
    for k, v in src.state_dict().items():
        assert torch.equal(task.G.state_dict()[k], v), k

    d_src, g_other = Discriminator(32, channel_max=8), Generator(32, 16, 2, channel_max=8)
    torch.save({"g": g_other.state_dict(), "g_ema": src.state_dict(), "d": d_src.state_dict()}, tmp_path / "r.pt")
    task = StyleGANTask(StyleGANTrainConfig(data=str(data), resume_from=str(tmp_path / "r.pt"), fd_samples=0))
    task.build(torch.device("cpu"))
    assert all(torch.equal(task.G.state_dict()[k], v) for k, v in src.state_dict().items())
    assert all(torch.equal(task.D.state_dict()[k], v) for k, v in d_src.state_dict().items())
    res = train(task, loop_cfg(2), runs_root=tmp_path / "runs")
    assert (res.run_dir / "last.safetensors").is_file()


def test_wrong_source_is_a_one_line_error(tmp_path, capsys):
    data = make_styles(tmp_path / "s", n=4)
    save_generator(tmp_path / "g32.safetensors", Generator(32, 16, 2, channel_max=8))
    base = ["train-stylegan", "--data", str(data), "--steps", "1", "--runs", str(tmp_path / "runs")]
    assert main([*base, "--resume-from", str(tmp_path / "g32.safetensors"), "--size", "64"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --size 64 does not match") and "\n" not in err
    from safetensors.torch import save_file

    save_file({"weight": torch.zeros(2)}, str(tmp_path / "other.safetensors"))
    assert main([*base, "--resume-from", str(tmp_path / "other.safetensors")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "StyleGAN2" in err and "\n" not in err
    assert not (tmp_path / "runs").exists()


# ---- early stopping ----------------------------------------------------------------------------
def test_early_stopping_keeps_the_best_snapshot(tmp_path, monkeypatch, small_model_cpu):
    fds = iter([5.0, 3.0, 4.0, 3.5, 1.0, 1.0])
    seen: list[dict[str, torch.Tensor]] = []

    def fake_fd(self):
        seen.append({k: v.clone() for k, v in self.ema["G"].state_dict().items()})
        return next(fds)

    monkeypatch.setattr(StyleGANTask, "measure_fd", fake_fd)
    task = StyleGANTask(tiny_cfg(make_styles(tmp_path / "s"), fd_samples=4, patience=2))
    res = train(task, loop_cfg(20, eval_every=1, ema_decay=0.5), runs_root=tmp_path / "runs")
    assert res.stopped_early and res.step == 4 and len(seen) == 4
    assert json.loads((res.run_dir / "best.json").read_text()) == {"step": 2, "val/fd": 3.0}
    best = load_generator(res.run_dir / "best.safetensors")
    for k, v in seen[1].items():
        assert torch.equal(best.state_dict()[k], v), k
    assert not torch.equal(seen[1]["conv1.conv.weight"], seen[3]["conv1.conv.weight"])
    stats = [json.loads(s) for s in (res.run_dir / "stats.jsonl").read_text().splitlines()]
    assert [s["val/fd"] for s in stats] == [5.0, 3.0, 4.0, 3.5]
    extra = load_checkpoint(res.run_dir / "checkpoints" / "latest.pt")["extra"]
    assert (extra["best_step"], extra["bad_evals"]) == (2, 2)
