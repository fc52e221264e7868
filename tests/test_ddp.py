"""Two CPU processes (gloo) under torchrun train like one process on the combined batch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import torch
from torch import nn

from toonforge.training.loop import LoopConfig, train
from toonforge.training.task import Phase, TrainingTask


class DDPTask(TrainingTask):
    """A linear map fitted with plain SGD; the phase uses the DDP-wrapped module."""

    name = "ddp-linear"

    def build(self, device: torch.device) -> None:
        self.net = nn.Linear(4, 3).to(device)
        self.opt = torch.optim.SGD(self.net.parameters(), lr=0.1)
        self.train_net: nn.Module = self.net

    def modules(self) -> dict[str, nn.Module]:
        return {"net": self.net}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"sgd": self.opt}

    def dataset(self) -> torch.utils.data.Dataset:
        g = torch.Generator().manual_seed(7)
        x = torch.randn(64, 4, generator=g)
        return torch.utils.data.TensorDataset(x, x @ torch.randn(3, 4, generator=g).T)

    def phases(self) -> list[Phase]:
        return [Phase("fit", self._fit)]

    def ema_modules(self) -> list[str]:
        return ["net"]

    def wrap_modules(self, wrapped: dict[str, nn.Module]) -> None:
        self.train_net = wrapped["net"]
        self.wrap_calls = [*getattr(self, "wrap_calls", []), type(wrapped["net"]).__name__]

    def _fit(self, batch: tuple[torch.Tensor, torch.Tensor], step: int) -> dict[str, float]:
        x, y = batch
        self.opt.zero_grad(set_to_none=True)
        loss = nn.functional.mse_loss(self.train_net(x), y)
        loss.backward()
        self.opt.step()
        return {"loss": float(loss.detach())}


def _cfg(total: int, batch: int) -> LoopConfig:
    return LoopConfig(
        total_steps=total,
        batch_size=batch,
        log_every=3,
        checkpoint_every=4,
        ema_decay=0.8,
        tensorboard=False,
        progress=False,
    )


# Each rank trains 6 steps, then resumes the same run up to 10 (all ranks load the checkpoint,
# data position and per-rank RNG states), then saves its own final weights for comparison.
WORKER = """
import os, sys, torch
sys.path.insert(0, {tests!r})
from test_ddp import DDPTask, _cfg
from toonforge.training.loop import train

root, out = sys.argv[1], sys.argv[2]
first = train(DDPTask(), _cfg(6, 4), runs_root=root)
task = DDPTask()
res = train(task, _cfg(10, 4), runs_root=root, resume=first.run_dir)
rank = int(os.environ["RANK"])
torch.save({{"step": res.step, "run_dir": str(res.run_dir), "net": task.net.state_dict(),
            "wraps": task.wrap_calls}},
           os.path.join(out, f"rank{{rank}}.pt"))
"""


def test_two_processes_average_gradients(tmp_path: Path) -> None:
    script = tmp_path / "worker.py"
    script.write_text(textwrap.dedent(WORKER.format(tests=str(Path(__file__).parent))))
    root, out = tmp_path / "runs", tmp_path / "out"
    out.mkdir()
    env = dict(os.environ, OMP_NUM_THREADS="1", GLOO_SOCKET_IFNAME="lo")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    proc = subprocess.run(
        [*cmd, str(script), str(root), str(out)], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-3000:]

    ranks = [torch.load(out / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    assert [r["step"] for r in ranks] == [10, 10] and all(
        r["wraps"] == ["DistributedDataParallel", "Linear"] for r in ranks
    )
    for k, v in ranks[0]["net"].items():
        assert torch.equal(v, ranks[1]["net"][k])
    assert [p.name for p in root.iterdir()] == ["00000-ddp-linear"]
    run_dir = root / "00000-ddp-linear"
    assert ranks[0]["run_dir"] == ranks[1]["run_dir"] == str(run_dir)
    assert json.loads((run_dir / "config.json").read_text())["world_size"] == 2
    steps = [json.loads(s)["step"] for s in (run_dir / "stats.jsonl").read_text().splitlines()]
    assert steps == [3, 6, 9, 10]

    # One process on batches of 8 sees the union of the two ranks' batches of 4, so with a mean
    # loss and averaged gradients it must reach the same weights.
    single = DDPTask()
    res = train(single, _cfg(10, 8), runs_root=tmp_path / "single")
    assert res.step == 10
    for k, v in single.net.state_dict().items():
        torch.testing.assert_close(ranks[0]["net"][k], v, rtol=1e-5, atol=1e-6)
    ckpt = torch.load(run_dir / "checkpoints" / "latest.pt", weights_only=True)
    assert len(ckpt["rng"]) == 2 and ckpt["step"] == 10
    ref = torch.load(res.run_dir / "checkpoints" / "latest.pt", weights_only=True)
    for k, v in ref["ema"]["net"].items():
        torch.testing.assert_close(ckpt["ema"]["net"][k], v, rtol=1e-5, atol=1e-6)
