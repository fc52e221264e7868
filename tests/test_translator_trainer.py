"""Stage-3 trainer on tiny synthetic pairs: learning, resume after a kill, style export."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from toonforge.styles import load_style
from toonforge.training.loop import LoopConfig, train
from toonforge.training.translator_task import TranslatorTask, TranslatorTrainConfig

ROOT = Path(__file__).resolve().parents[1]

# One torch thread, no oneDNN: these tiny models train many steps, and a second thread only adds
# contention (147 s against 11.5 s for one test on a loaded 2-core machine).
pytestmark = pytest.mark.usefixtures("small_model_cpu")


def make_pairs(root: Path, n: int = 12, size: int = 32) -> tuple[Path, Path]:
    """Inputs: smooth random images; targets: a simple learnable map (inverted colours)."""
    inp, tgt = root / "in", root / "tgt"
    inp.mkdir(parents=True)
    tgt.mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        small = rng.integers(0, 255, (4, 4, 3), dtype=np.uint8)
        img = np.asarray(Image.fromarray(small).resize((size, size), Image.BILINEAR))
        Image.fromarray(img).save(inp / f"{i:03d}.png")
        Image.fromarray(255 - img).save(tgt / f"{i:03d}.png")
    return inp, tgt


def tiny_cfg(inp: Path, tgt: Path, **kw) -> TranslatorTrainConfig:
    base = dict(inputs=str(inp), targets=str(tgt), tier="tiny", size=32, w_perceptual=0.0,
                w_gan=0.1, gan_start=4, d_channels=8, val_fraction=0.2, lr_g=3e-3)
    base.update(kw)
    return TranslatorTrainConfig(**base)


def test_learns_and_writes_a_style(tmp_path):
    torch.manual_seed(0)
    inp, tgt = make_pairs(tmp_path)
    task = TranslatorTask(tiny_cfg(inp, tgt))
    loop = LoopConfig(total_steps=60, batch_size=4, log_every=10, checkpoint_every=30,
                      eval_every=30, progress=False, tensorboard=False, ema_decay=0.9)
    res = train(task, loop, runs_root=tmp_path / "runs")
    stats = [json.loads(line) for line in (res.run_dir / "stats.jsonl").read_text().splitlines()]
    pix = [s["loss/pixel"] for s in stats if "loss/pixel" in s]
    assert pix[-1] < 0.7 * pix[0]
    assert any("loss/D" in s for s in stats) and any("val/l1" in s for s in stats)
    cfg = json.loads((res.run_dir / "config.json").read_text())
    assert cfg["task"]["n_val"] == len(task.val_names) > 0

    from toonforge.training.export_style import write_translator_style

    out = write_translator_style(task, res, tmp_path / "mystyle", name="mystyle", head_resolution=64)
    style = load_style(out)
    assert (out / "head.onnx").is_file() and "Held-out L1" in style.card
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        assert torch.allclose(style.build_net()(x), task.ema["G"].cpu().eval()(x), atol=1e-6)


def test_perceptual_loss_in_the_trainer(tmp_path):
    pytest.importorskip("torch")
    from toonforge.losses.perceptual import PerceptualLoss
    from toonforge.models.features.mobilenetv2 import MobileNetV2Features

    inp, tgt = make_pairs(tmp_path, n=6)
    torch.manual_seed(0)
    perc = PerceptualLoss(MobileNetV2Features(pretrained=False))
    task = TranslatorTask(tiny_cfg(inp, tgt, w_perceptual=0.5, val_fraction=0.0), perceptual=perc)
    res = train(task, LoopConfig(total_steps=4, batch_size=2, progress=False, tensorboard=False,
                                 log_every=2), runs_root=tmp_path / "runs")
    last = json.loads((res.run_dir / "stats.jsonl").read_text().splitlines()[-1])
    assert last["loss/perceptual"] > 0 and np.isfinite(last["loss/G"])


@pytest.mark.parametrize("tier", ["small-hd", "small-subpixel"])
def test_init_from_a_checkpoint_or_style_grows_small_into_a_sharper_tier(tmp_path, tier):
    """A small-tier run's EMA generator and discriminator seed a small-hd or small-subpixel run,
    which starts out computing what the small one did (small-subpixel: inside a two-pixel
    border); a style folder seeds the generator alone."""
    from toonforge.training.export_style import write_translator_style

    inp, tgt = make_pairs(tmp_path, n=6)
    torch.manual_seed(0)
    src = TranslatorTask(tiny_cfg(inp, tgt, tier="small", val_fraction=0.0, gan_start=0))
    res = train(src, LoopConfig(total_steps=3, batch_size=2, progress=False, tensorboard=False,
                                ema_decay=0.5), runs_root=tmp_path / "runs")
    ckpt = res.run_dir / "checkpoints" / "latest.pt"
    style = write_translator_style(src, res, tmp_path / "small-style", name="s", head_resolution=32)
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        want = src.ema["G"].cpu().eval()(x)
    same_d = {}
    for source in (ckpt, style):
        task = TranslatorTask(tiny_cfg(inp, tgt, tier=tier, init_from=str(source)))
        task.build(torch.device("cpu"))
        with torch.no_grad():
            got = task.G.eval()(x)
        inside = slice(2, -2) if tier == "small-subpixel" else slice(None)
        assert torch.allclose(got[..., inside, inside], want[..., inside, inside], atol=1e-6)
        pairs = zip(task.D.state_dict().values(), src.D.state_dict().values())
        same_d[source] = all(torch.equal(a, b) for a, b in pairs)
    assert same_d == {ckpt: True, style: False}  # a style carries no discriminator


def test_init_from_refuses_another_tier_in_one_line(tmp_path):
    inp, tgt = make_pairs(tmp_path, n=6)
    res = train(TranslatorTask(tiny_cfg(inp, tgt, val_fraction=0.0)),
                LoopConfig(total_steps=1, batch_size=2, progress=False, tensorboard=False),
                runs_root=tmp_path / "runs")
    ckpt = res.run_dir / "checkpoints" / "latest.pt"
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), OMP_NUM_THREADS="1")
    for source, says in ((ckpt, "does not fit the architecture"), (tmp_path / "nope.pt", "no such")):
        cmd = _cli(tmp_path, inp, tgt, 2, "--init-from", str(source))
        cmd[cmd.index("--tier") + 1] = "small-hd"
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode != 0 and "Traceback" not in done.stderr
        assert says in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_resume_does_not_read_the_init_from_start(tmp_path):
    """On resume the checkpoint's states replace the start, so --init-from is not read: a run
    continues even after its start file is gone, from its own weights."""
    inp, tgt = make_pairs(tmp_path, n=6)
    start = tmp_path / "start.pt"
    first = train(TranslatorTask(tiny_cfg(inp, tgt, val_fraction=0.0)),
                  LoopConfig(total_steps=1, batch_size=2, progress=False, tensorboard=False),
                  runs_root=tmp_path / "start-runs")
    (first.run_dir / "checkpoints" / "latest.pt").rename(start)
    loop = dict(batch_size=2, progress=False, tensorboard=False, checkpoint_every=1)
    run = train(TranslatorTask(tiny_cfg(inp, tgt, val_fraction=0.0, init_from=str(start))),
                LoopConfig(total_steps=2, **loop), runs_root=tmp_path / "runs")
    saved = run.run_dir / "checkpoints" / "latest.pt"
    before = torch.load(saved, weights_only=True)["modules"]["G"]
    start.unlink()
    task = TranslatorTask(tiny_cfg(inp, tgt, val_fraction=0.0, init_from=str(start)))
    done = train(task, LoopConfig(total_steps=2, **loop), runs_root=tmp_path / "runs", resume=run.run_dir)
    assert done.step == 2
    assert all(torch.equal(task.G.state_dict()[k].cpu(), v) for k, v in before.items())


def _cli(tmp_path: Path, inp: Path, tgt: Path, steps: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "toonforge.cli", "train-translator", "--inputs", str(inp),
            "--targets", str(tgt), "--tier", "tiny", "--size", "32", "--steps", str(steps),
            "--batch-size", "2", "--w-perceptual", "0", "--gan-start", "2", "--checkpoint-every", "5",
            "--eval-every", "0", "--runs", str(tmp_path / "runs"), *extra]


@pytest.mark.slow
def test_kill_and_resume_via_cli(tmp_path):
    inp, tgt = make_pairs(tmp_path, n=8)
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), OMP_NUM_THREADS="1")
    proc = subprocess.Popen(_cli(tmp_path, inp, tgt, 100000), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ckpt = None
    deadline = time.time() + 120
    while time.time() < deadline:
        found = list((tmp_path / "runs").glob("*/checkpoints/latest.pt"))
        if found:
            ckpt = found[0]
            break
        time.sleep(0.2)
    assert ckpt is not None, "no checkpoint written"
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    state = torch.load(ckpt, map_location="cpu", weights_only=True)
    killed_at = int(state["step"])
    assert killed_at >= 5
    run_dir = ckpt.parents[1]
    final = killed_at + 7
    done = subprocess.run(_cli(tmp_path, inp, tgt, final, "--resume", str(run_dir),
                               "--style-out", str(tmp_path / "resumed")),
                          env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    state = torch.load(ckpt, map_location="cpu", weights_only=True)
    assert int(state["step"]) == final
    lines = [json.loads(x) for x in (run_dir / "stats.jsonl").read_text().splitlines()]
    assert all(np.isfinite(v) for line in lines for k, v in line.items() if k.startswith("loss/"))
    assert len(list((tmp_path / "runs").iterdir())) == 1  # resumed in place, no new run folder
    assert (tmp_path / "resumed" / "model.safetensors").is_file()


DDP_SCRIPT = """
import sys, torch, torch.distributed as dist
from toonforge.training.loop import LoopConfig, train
from toonforge.training.translator_task import TranslatorTask, TranslatorTrainConfig
inp, tgt, out = sys.argv[1:4]
cfg = TranslatorTrainConfig(inputs=inp, targets=tgt, tier="tiny", size=32, w_perceptual=0.0,
                            w_gan=0.1, gan_start=0, d_channels=8, val_fraction=0.0)
task = TranslatorTask(cfg)
res = train(task, LoopConfig(total_steps=3, batch_size=2, progress=False, tensorboard=False),
            runs_root=out + "/runs")
import os
rank = int(os.environ["RANK"])
torch.save({k: v.detach().clone() for k, v in task.G.state_dict().items()}, f"{out}/G{rank}.pt")
"""


@pytest.mark.slow
def test_two_process_ddp_translator_step(tmp_path):
    """Both phases (D and G) under DDP on two gloo CPU processes end with identical weights."""
    inp, tgt = make_pairs(tmp_path, n=8)
    script = tmp_path / "ddp_translator.py"
    script.write_text(DDP_SCRIPT)
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                           "--standalone", str(script), str(inp), str(tgt), str(tmp_path)],
                          env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    g0 = torch.load(tmp_path / "G0.pt", weights_only=True)
    g1 = torch.load(tmp_path / "G1.pt", weights_only=True)
    trainable = [k for k in g0 if "running" not in k and "num_batches" not in k]
    assert all(torch.equal(g0[k], g1[k]) for k in trainable)
    assert len(list((tmp_path / "runs").iterdir())) == 1
    state = torch.load(next((tmp_path / "runs").glob("*/checkpoints/latest.pt")), weights_only=True)
    assert int(state["step"]) == 3
