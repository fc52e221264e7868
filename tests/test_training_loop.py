"""The shared training loop on a tiny seeded task: a 2-layer linear net fitting y = A x."""

from __future__ import annotations

import json
import os
import random
import signal
from pathlib import Path

import pytest
import torch
from torch import nn

from toonforge.errors import CheckpointError, InputError, ToonforgeError
from toonforge.training.checkpoint import load_checkpoint, save_atomic
from toonforge.training.distributed import to_device
from toonforge.training.ema import EMA
from toonforge.training.loop import LoopConfig, lr_factor_at, train
from toonforge.training.task import Phase, TrainingTask


def _data(n: int = 64) -> torch.utils.data.TensorDataset:
    g = torch.Generator().manual_seed(1234)
    a = torch.randn(3, 4, generator=g)
    x = torch.randn(n, 4, generator=g)
    return torch.utils.data.TensorDataset(x, x @ a.T)


class LinearTask(TrainingTask):
    """Phase "fit" (every step, noisy inputs from the global RNGs) and "shrink" (every 2)."""

    name = "linear"

    def __init__(self, hidden: int = 8, *, fail_at: int | None = None, fail: str = "") -> None:
        self.hidden, self.fail_at, self.fail = hidden, fail_at, fail
        self.shrink_steps: list[int] = []
        self.fit_losses: list[float] = []
        self.checkpoints: list[int] = []
        self.n_shrinks = 0

    def build(self, device: torch.device) -> None:
        self.net = nn.Sequential(nn.Linear(4, self.hidden), nn.Linear(self.hidden, 3)).to(device)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=0.02)
        self.opt_shrink = torch.optim.SGD(self.net.parameters(), lr=0.01)
        self.train_net = self.net

    def modules(self) -> dict[str, nn.Module]:
        return {"net": self.net}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"fit": self.opt, "shrink": self.opt_shrink}

    def dataset(self) -> torch.utils.data.Dataset:
        return _data()

    def phases(self) -> list[Phase]:
        return [Phase("fit", self._fit), Phase("shrink", self._shrink, every=2)]

    def ema_modules(self) -> list[str]:
        return ["net"]

    def set_ema(self, ema: dict[str, nn.Module]) -> None:
        self.ema = ema

    def config(self) -> dict:
        return {"hidden": self.hidden}

    def extra_state(self) -> dict:
        return {"n_shrinks": self.n_shrinks}

    def load_extra_state(self, state: dict) -> None:
        self.n_shrinks = state["n_shrinks"]

    def on_checkpoint(self, run_dir: Path, step: int) -> None:
        self.checkpoints.append(step)

    def _fit(self, batch: tuple[torch.Tensor, torch.Tensor], step: int) -> dict[str, float]:
        if step == self.fail_at and self.fail == "interrupt":
            raise KeyboardInterrupt
        if step == self.fail_at and self.fail == "sigterm":
            os.kill(os.getpid(), signal.SIGTERM)
        x, y = batch
        # Noise from torch and python RNGs: resume is only exact if both are restored.
        x = x + 0.01 * random.random() * torch.randn_like(x)
        self.opt.zero_grad(set_to_none=True)
        loss = nn.functional.mse_loss(self.train_net(x), y)
        loss.backward()
        self.opt.step()
        if step == self.fail_at and self.fail == "nan":
            return {"loss/fit": float("nan")}
        self.fit_losses.append(float(loss.detach()))
        return {"loss/fit": float(loss.detach())}

    def _shrink(self, batch: object, step: int) -> dict[str, float]:
        self.shrink_steps.append(step)
        self.n_shrinks += 1
        self.opt_shrink.zero_grad(set_to_none=True)
        reg = sum((p**2).sum() for p in self.net.parameters())
        (1e-3 * reg).backward()
        self.opt_shrink.step()
        return {"loss/shrink": float(reg.detach())}


def _cfg(total: int, **kw: object) -> LoopConfig:
    base = {"batch_size": 8, "log_every": 5, "checkpoint_every": 4, "ema_decay": 0.9}
    base |= {"tensorboard": False, "progress": False}
    return LoopConfig(total_steps=total, **(base | kw))  # type: ignore[arg-type]


def _stats(run_dir: Path) -> list[dict]:
    return [json.loads(s) for s in (run_dir / "stats.jsonl").read_text().splitlines()]


def _weights(run_dir: Path) -> dict[str, torch.Tensor]:
    ckpt = torch.load(run_dir / "checkpoints" / "latest.pt", map_location="cpu", weights_only=True)
    out = {f"net.{k}": v for k, v in ckpt["modules"]["net"].items()}
    return out | {f"ema.{k}": v for k, v in ckpt["ema"]["net"].items()}


def test_trains_logs_and_checkpoints(tmp_path: Path) -> None:
    task = LinearTask()
    res = train(task, _cfg(40, progress=True), runs_root=tmp_path)
    assert res.run_dir == tmp_path / "00000-linear"
    assert (res.step, res.stopped_early) == (40, False)
    assert sum(task.fit_losses[-5:]) < 0.5 * sum(task.fit_losses[:5])  # it learns

    conf = json.loads((res.run_dir / "config.json").read_text())
    assert conf["loop"]["total_steps"] == 40 and conf["loop"]["max_minutes"] is None
    assert conf["task"] == {"hidden": 8} and conf["world_size"] == 1
    assert conf["torch"] == torch.__version__ and "T" in conf["started"]

    lines = _stats(res.run_dir)
    assert [s["step"] for s in lines] == [5, 10, 15, 20, 25, 30, 35, 40]
    assert lines[0]["loss/fit"] == pytest.approx(sum(task.fit_losses[:5]) / 5)
    assert all(s["time"] >= 0 and "loss/shrink" in s for s in lines)
    assert res.last_stats == {k: v for k, v in lines[-1].items() if k.startswith("loss/")}

    ckpt = torch.load(res.run_dir / "checkpoints" / "latest.pt", weights_only=True)
    assert ckpt["step"] == 40 and ckpt["task"] == "linear"
    assert ckpt["extra"] == {"n_shrinks": 20}
    assert set(ckpt["optimizers"]) == {"fit", "shrink"}
    assert task.checkpoints == [4, 8, 12, 16, 20, 24, 28, 32, 36, 40]
    assert not list(res.run_dir.rglob("*.tmp"))
    # The EMA lags behind the weights but is close to them.
    w = dict(task.net.named_parameters())
    for k, v in task.ema["net"].named_parameters():
        assert not v.requires_grad and not torch.equal(v, w[k])

    again = train(LinearTask(), _cfg(2), runs_root=tmp_path)
    assert again.run_dir == tmp_path / "00001-linear"


def test_lazy_phase_runs_on_its_steps(tmp_path: Path) -> None:
    task = LinearTask()
    train(task, _cfg(7, log_every=7), runs_root=tmp_path)
    assert task.shrink_steps == [0, 2, 4, 6]
    assert len(task.fit_losses) == 7


@pytest.mark.parametrize("how", ["interrupt", "sigterm"])
def test_resume_matches_uninterrupted_run(tmp_path: Path, how: str) -> None:
    ref = train(LinearTask(), _cfg(20), runs_root=tmp_path / "ref")

    broken = LinearTask(fail_at=10, fail=how)
    if how == "interrupt":  # raised inside step 10: saved at 10 steps, then re-raised
        with pytest.raises(KeyboardInterrupt):
            train(broken, _cfg(20), runs_root=tmp_path / "cut")
        cut_step = 10
    else:  # SIGTERM during step 10: that step finishes, then a checkpoint and a clean return
        res = train(broken, _cfg(20), runs_root=tmp_path / "cut")
        assert res.stopped_early and res.step == 11
        cut_step = 11
    run_dir = tmp_path / "cut" / "00000-linear"
    assert load_checkpoint(run_dir / "checkpoints" / "latest.pt")["step"] == cut_step

    res = train(LinearTask(), _cfg(20), runs_root=tmp_path / "cut", resume=run_dir)
    assert (res.run_dir, res.step, res.stopped_early) == (run_dir, 20, False)
    assert [p.name for p in (tmp_path / "cut").iterdir()] == ["00000-linear"]
    ref_w, cut_w = _weights(ref.run_dir), _weights(run_dir)
    for k in ref_w:
        torch.testing.assert_close(cut_w[k], ref_w[k], rtol=1e-6, atol=1e-7)

    lines, ref_lines = _stats(run_dir), _stats(ref.run_dir)
    steps = [s["step"] for s in lines]
    assert steps == sorted(steps) and steps[-1] == 20 and steps.count(10) == 1
    ref_by_step = {s["step"]: s for s in ref_lines}
    same_window = {5, 10, 20} | ({15} if how == "interrupt" else set())
    for s in lines:
        if s["step"] in same_window:
            assert s["loss/fit"] == pytest.approx(ref_by_step[s["step"]]["loss/fit"], rel=1e-5)
    conf = json.loads((run_dir / "config.json").read_text())
    assert conf["resumes"][0]["step"] == cut_step
    assert load_checkpoint(run_dir / "checkpoints" / "latest.pt")["extra"] == {"n_shrinks": 10}


def test_resume_extends_a_finished_run(tmp_path: Path) -> None:
    ref = train(LinearTask(), _cfg(30), runs_root=tmp_path / "ref")
    first = train(LinearTask(), _cfg(20), runs_root=tmp_path)
    same = train(LinearTask(), _cfg(20), runs_root=tmp_path, resume=first.run_dir)
    assert same.step == 20  # nothing left to do
    more = train(LinearTask(), _cfg(30), runs_root=tmp_path, resume=first.run_dir)
    assert more.step == 30 and more.run_dir == first.run_dir
    ref_w, w = _weights(ref.run_dir), _weights(more.run_dir)
    for k in ref_w:
        torch.testing.assert_close(w[k], ref_w[k], rtol=1e-6, atol=1e-7)

    # A checkpoint file outside a run folder starts a new folder that notes its origin.
    loose = tmp_path / "loose.pt"
    loose.write_bytes((first.run_dir / "checkpoints" / "latest.pt").read_bytes())
    other = train(LinearTask(), _cfg(32), runs_root=tmp_path, resume=loose)
    assert other.run_dir == tmp_path / "00001-linear" and other.step == 32
    assert json.loads((other.run_dir / "config.json").read_text())["resumed_from"]["step"] == 30


def test_time_budget_stops_with_a_checkpoint(tmp_path: Path) -> None:
    res = train(LinearTask(), _cfg(50, max_minutes=0.0), runs_root=tmp_path)
    assert res.stopped_early and res.step == 1
    assert load_checkpoint(res.run_dir / "checkpoints" / "latest.pt")["step"] == 1
    assert _stats(res.run_dir)[-1]["step"] == 1


def test_nan_loss_stops_without_saving(tmp_path: Path) -> None:
    with pytest.raises(ToonforgeError, match=r"phase 'fit' at step 5") as info:
        train(LinearTask(fail_at=5, fail="nan"), _cfg(20), runs_root=tmp_path)
    assert "\n" not in str(info.value)
    ckpt = load_checkpoint(tmp_path / "00000-linear" / "checkpoints" / "latest.pt")
    assert ckpt["step"] == 4


def test_checkpoint_mismatches_are_reported(tmp_path: Path) -> None:
    run = train(LinearTask(), _cfg(4), runs_root=tmp_path).run_dir
    with pytest.raises(CheckpointError, match=r"module .net. does not fit.*wrong shapes"):
        train(LinearTask(hidden=5), _cfg(8), runs_root=tmp_path, resume=run)

    class Renamed(LinearTask):
        name = "other"

    with pytest.raises(CheckpointError, match="task 'linear', not 'other'"):
        train(Renamed(), _cfg(8), runs_root=tmp_path, resume=run)

    class Deeper(LinearTask):
        def build(self, device: torch.device) -> None:
            super().build(device)
            self.net.append(nn.Linear(3, 3))

    with pytest.raises(CheckpointError, match="2 missing keys"):
        train(Deeper(), _cfg(8), runs_root=tmp_path, resume=run)

    with pytest.raises(CheckpointError, match="not found"):
        train(LinearTask(), _cfg(8), runs_root=tmp_path, resume=tmp_path / "nope")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a torch checkpoint"):
        load_checkpoint(bad)
    torch.save({"obj": InputError("x")}, bad)  # a pickled class: refused by weights_only
    with pytest.raises(CheckpointError, match="unsafe"):
        load_checkpoint(bad)


def test_bad_settings_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="batch_size"):
        LoopConfig(total_steps=10, batch_size=0)
    with pytest.raises(InputError, match="ema_decay"):
        LoopConfig(total_steps=10, ema_decay=1.5)
    with pytest.raises(InputError, match="too small"):
        train(LinearTask(), _cfg(4, batch_size=100), runs_root=tmp_path)
    with pytest.raises(InputError, match="every"):
        Phase("x", lambda b, s: {}, every=0)


def test_tensorboard_events_are_written(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    res = train(LinearTask(), _cfg(5, tensorboard=True), runs_root=tmp_path)
    assert list(res.run_dir.glob("events.out.tfevents.*"))


def test_ema_decay_warms_up_after_ema_start() -> None:
    from toonforge.training.loop import ema_decay_at

    cfg = LoopConfig(total_steps=100_000, ema_decay=0.999, ema_start=5)
    assert [ema_decay_at(s, cfg) for s in (0, 4)] == [0.0, 0.0]
    assert ema_decay_at(5, cfg) == pytest.approx(0.1) and ema_decay_at(95, cfg) == pytest.approx(91 / 100)
    assert ema_decay_at(50_000, cfg) == 0.999  # capped by ema_decay
    decays = [ema_decay_at(s, cfg) for s in range(5, 20_000, 97)]
    assert decays == sorted(decays)
    plain = LoopConfig(total_steps=10, ema_decay=0.9, ema_warmup=False)
    assert ema_decay_at(0, plain) == 0.9


def test_ema_copies_then_averages() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    ema = EMA(net)
    assert not ema.module.training and not any(p.requires_grad for p in ema.module.parameters())
    with torch.no_grad():
        for p in net.parameters():
            p.add_(1.0)
    net(torch.randn(4, 2))  # moves the BatchNorm running statistics
    old = [p.clone() for p in ema.module.parameters()]
    ema.update(net, 0.75)
    for e, o, p in zip(ema.module.parameters(), old, net.parameters()):
        torch.testing.assert_close(e, 0.75 * o + 0.25 * p)
    for e, b in zip(ema.module.buffers(), net.buffers()):
        assert torch.equal(e, b)
    ema.update(net, 0.0)
    assert all(torch.equal(e, p) for e, p in zip(ema.module.parameters(), net.parameters()))


def test_save_atomic_is_weights_only_loadable(tmp_path: Path) -> None:
    path = tmp_path / "c" / "x.pt"
    save_atomic({"a": torch.ones(2), "b": [1, 2.5, "s"], "c": {"d": None}}, path)
    save_atomic({"a": torch.zeros(2), "b": [], "c": {}}, path)  # overwrite in place
    out = torch.load(path, weights_only=True)
    assert torch.equal(out["a"], torch.zeros(2)) and [p.name for p in path.parent.iterdir()] == ["x.pt"]


def test_to_device_walks_nested_batches() -> None:
    from collections import namedtuple

    pair = namedtuple("pair", "a b")
    batch = {"x": [torch.ones(1), (torch.zeros(1), "name")], "p": pair(torch.ones(2), 3)}
    out = to_device(batch, torch.device("meta"))
    assert out["x"][0].device.type == "meta" and out["x"][1][1] == "name"
    assert isinstance(out["p"], pair) and out["p"].a.device.type == "meta" and out["p"].b == 3


class LrTask(LinearTask):
    """LinearTask built with a chosen "fit" rate; records both optimizers' rates at every step."""

    def __init__(self, lr: float = 0.02, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.lr, self.lrs = lr, []

    def build(self, device: torch.device) -> None:
        super().build(device)
        self.opt.param_groups[0]["lr"] = self.lr

    def _fit(self, batch: tuple[torch.Tensor, torch.Tensor], step: int) -> dict[str, float]:
        self.lrs.append((self.opt.param_groups[0]["lr"], self.opt_shrink.param_groups[0]["lr"]))
        return super()._fit(batch, step)


def test_lr_factor_is_linear_over_the_last_steps() -> None:
    decay = LoopConfig(total_steps=10, lr_decay_steps=4)
    assert [lr_factor_at(s, decay) for s in range(10)] == [1.0] * 7 + [0.75, 0.5, 0.25]
    assert {lr_factor_at(s, LoopConfig(total_steps=10)) for s in range(10)} == {1.0}
    with pytest.raises(InputError, match="must not exceed total_steps"):
        LoopConfig(total_steps=5, lr_decay_steps=6)
    with pytest.raises(InputError, match="lr_decay_steps"):
        LoopConfig(total_steps=5, lr_decay_steps=-1)


def test_every_optimizer_decays_and_the_factor_is_logged(tmp_path: Path) -> None:
    task = LrTask()
    res = train(task, _cfg(10, lr_decay_steps=4), runs_root=tmp_path)
    fit, shrink = zip(*task.lrs, strict=True)
    assert fit == pytest.approx([0.02] * 7 + [0.015, 0.01, 0.005])
    assert shrink == pytest.approx([0.01] * 7 + [0.0075, 0.005, 0.0025])
    stats = _stats(res.run_dir)
    assert stats[0]["lr_factor"] == 1.0 and stats[-1]["lr_factor"] == pytest.approx((1 + 1 + 0.75 + 0.5 + 0.25) / 5)
    assert "lr_factor" not in _stats(train(LinearTask(), _cfg(5), runs_root=tmp_path / "flat").run_dir)[0]


def test_resume_uses_this_calls_learning_rates(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """A checkpoint's optimizer state carries the rate it ran at; a resume with another --lr must
    train at the new one (it used to keep the checkpoint's silently) and say so."""
    first = train(LrTask(), _cfg(6), runs_root=tmp_path)
    capsys.readouterr()
    slower = LrTask(lr=0.005)
    train(slower, _cfg(10), runs_root=tmp_path, resume=first.run_dir)
    assert [fit for fit, _ in slower.lrs] == [0.005] * 4
    assert "learning rates from this command, not the checkpoint: fit 0.02 -> 0.005" in capsys.readouterr().out
    again = LrTask(lr=0.005)
    train(again, _cfg(12), runs_root=tmp_path, resume=first.run_dir)
    assert [fit for fit, _ in again.lrs] == [0.005] * 2
    assert "learning rates" not in capsys.readouterr().out


def test_resume_inside_the_decay_matches_an_uninterrupted_run(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    ref = LrTask()
    train(ref, _cfg(20, lr_decay_steps=8), runs_root=tmp_path / "ref")
    with pytest.raises(KeyboardInterrupt):
        train(LrTask(fail_at=15, fail="interrupt"), _cfg(20, lr_decay_steps=8), runs_root=tmp_path / "cut")
    rest = LrTask()
    res = train(rest, _cfg(20, lr_decay_steps=8), runs_root=tmp_path / "cut", resume=tmp_path / "cut" / "00000-linear")
    assert "learning rates" not in capsys.readouterr().out  # the checkpoint ran at the schedule's rate
    # one (fit, shrink) pair a step; pytest.approx takes flat sequences only (nested ones fail on pytest 9.2)
    assert [lr for pair in rest.lrs for lr in pair] == pytest.approx([lr for pair in ref.lrs[15:] for lr in pair])
    assert len(rest.lrs) == len(ref.lrs) - 15
    ref_w, w = _weights(tmp_path / "ref" / "00000-linear"), _weights(res.run_dir)
    for k in ref_w:
        torch.testing.assert_close(w[k], ref_w[k], rtol=1e-6, atol=1e-7)


def test_a_signal_stop_reports_its_exit_code_and_a_failed_new_run_leaves_no_folder(tmp_path: Path) -> None:
    res = train(LinearTask(fail_at=1, fail="sigterm"), _cfg(5), runs_root=tmp_path / "a")
    assert res.stopped_early and res.signal == signal.SIGTERM and res.exit_code == 143
    assert train(LinearTask(), _cfg(2), runs_root=tmp_path / "b").exit_code == 0
    with pytest.raises(ToonforgeError, match="stopped without saving"):
        train(LinearTask(fail_at=0, fail="nan"), _cfg(5), runs_root=tmp_path / "c")
    assert list((tmp_path / "c").iterdir()) == []
