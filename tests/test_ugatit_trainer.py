"""U-GAT-IT trainer on tiny synthetic folders: steps, variants, validation, resume, CLI errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from toonforge.cli.main import main
from toonforge.errors import InputError
from toonforge.models.generator_file import load_generator_file, read_generator_meta
from toonforge.training.loop import LoopConfig, train
from toonforge.training.ugatit_task import UGATITTask, UGATITTrainConfig

# One torch thread, no oneDNN: these tiny models train many steps, and a second thread only adds
# contention (147 s against 11.5 s for one test on a loaded 2-core machine).
pytestmark = pytest.mark.usefixtures("small_model_cpu")


class MeanStdFeatures:
    """A trivial FD extractor (per-channel mean and std), instead of the real MobileNetV2."""

    name, fd_label, dim = "meanstd", "FD-meanstd", 6

    def __call__(self, images: np.ndarray) -> np.ndarray:
        x = np.asarray(images, np.float64) / 255.0
        return np.concatenate([x.mean(axis=(1, 2)), x.std(axis=(1, 2))], axis=1)


def make_folders(root: Path, n: int = 8, size: int = 32) -> tuple[Path, Path, Path]:
    """Photos (smooth noise), styles (flat, saturated blocks) and face masks (centre square)."""
    dirs = [root / "photos", root / "styles", root / "masks"]
    for d in dirs:
        d.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        small = rng.integers(0, 255, (4, 4, 3), dtype=np.uint8)
        Image.fromarray(small).resize((size, size), Image.BILINEAR).save(dirs[0] / f"p{i}.png")
        block = rng.integers(0, 2, (2, 2, 3), dtype=np.uint8) * 255
        Image.fromarray(block).resize((size, size), Image.NEAREST).save(dirs[1] / f"s{i}.png")
        mask = np.zeros((size, size, 3), np.uint8)
        mask[size // 4: 3 * size // 4, size // 4: 3 * size // 4] = 255
        Image.fromarray(mask).save(dirs[2] / f"p{i}.png")
    return tuple(dirs)  # type: ignore[return-value]


def tiny_cfg(root: Path, **kw) -> UGATITTrainConfig:
    photos, styles, masks = make_folders(root)
    base = dict(photos=str(photos), styles=str(styles), size=32, light=True, base_channels=8,
                n_blocks=1, d_channels=4, d_global_layers=5, d_local_layers=3, val_fraction=0.25,
                augment=None)
    if kw.get("background") == "region":
        base["masks"] = str(masks)
    return UGATITTrainConfig(**(base | kw))


def loop_cfg(steps: int, **kw) -> LoopConfig:
    base = dict(total_steps=steps, batch_size=2, log_every=1, checkpoint_every=2, eval_every=2,
                progress=False, tensorboard=False, ema_decay=0.9)
    return LoopConfig(**(base | kw))


def _stats(run_dir: Path) -> list[dict]:
    return [json.loads(x) for x in (run_dir / "stats.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("background", ["none", "region", "mask"])
def test_trains_each_variant(tmp_path, background):
    task = UGATITTask(tiny_cfg(tmp_path, background=background), extractor=MeanStdFeatures())
    res = train(task, loop_cfg(2), runs_root=tmp_path / "runs")
    stats = _stats(res.run_dir)
    losses = {k: v for s in stats for k, v in s.items() if k.startswith("loss/")}
    assert {"loss/D", "loss/G", "loss/G_cam", "loss/G_cycle"} <= set(losses)
    assert all(np.isfinite(v) for v in losses.values())
    assert ("loss/G_background" in losses) == (background == "region")
    assert ("loss/G_mask" in losses) == (background == "mask")
    assert any("val/fd" in s for s in stats)
    for rho in (m.rho for m in task.G_AB.modules() if hasattr(m, "rho")):
        assert 0.0 <= float(rho.detach().min()) and float(rho.detach().max()) <= 1.0
    name, config, info = read_generator_meta(res.run_dir / "generator.safetensors")
    assert name == "ugatit_generator" and config["mask_branch"] == (background == "mask")
    assert info == info | {"task": "ugatit", "step": 2, "size": 32, "background": background}
    assert (res.run_dir / "best_generator.safetensors").is_file()
    net, _ = load_generator_file(res.run_dir / "generator.safetensors")
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        assert torch.allclose(net(x).out, task.ema["G_AB"].eval()(x).out, atol=1e-6)


def test_resume_continues_from_the_same_step(tmp_path):
    cfg = tiny_cfg(tmp_path)
    first = train(UGATITTask(cfg, extractor=MeanStdFeatures()), loop_cfg(2, eval_every=0),
                  runs_root=tmp_path / "runs")
    assert first.step == 2
    saved = torch.load(first.run_dir / "checkpoints" / "latest.pt", map_location="cpu", weights_only=True)
    task = UGATITTask(cfg, extractor=MeanStdFeatures())
    res = train(task, loop_cfg(3, eval_every=0), runs_root=tmp_path / "runs", resume=first.run_dir)
    assert res.run_dir == first.run_dir and res.step == 3
    steps = [s["step"] for s in _stats(res.run_dir)]
    assert steps == [1, 2, 3]
    conf = json.loads((res.run_dir / "config.json").read_text())
    assert conf["resumes"][0]["step"] == 2
    # The resumed run started from the saved weights: one more G step moved them only a little.
    before = saved["modules"]["G_AB"]["to_rgb.1.weight"]
    after = task.G_AB.state_dict()["to_rgb.1.weight"]
    assert not torch.equal(before, after) and torch.allclose(before, after, atol=1e-2)


def test_bad_settings_are_input_errors(tmp_path):
    cfg = tiny_cfg(tmp_path)
    with pytest.raises(InputError, match="mask folder"):
        UGATITTask(UGATITTrainConfig(cfg.photos, cfg.styles, background="region"))
    with pytest.raises(InputError, match="background"):
        UGATITTask(UGATITTrainConfig(cfg.photos, cfg.styles, background="blur"))
    with pytest.raises(InputError, match="discriminator needs size"):
        UGATITTask(UGATITTrainConfig(cfg.photos, cfg.styles, size=64))


def test_cli_bad_folder_is_one_line_error(tmp_path, capsys):
    code = main(["train-ugatit", "--photos", str(tmp_path / "nope"), "--styles", str(tmp_path),
                 "--runs", str(tmp_path / "runs")])
    err = capsys.readouterr().err
    assert code != 0 and err.startswith("error:") and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists()


def test_cli_region_computes_masks_then_trains(tmp_path, capsys):
    pytest.importorskip("dlib")
    photos, styles, _ = make_folders(tmp_path, n=4)
    runs = tmp_path / "runs"
    args = ["train-ugatit", "--photos", photos, "--styles", styles, "--size", "32", "--background", "region",
            "--base-channels", "8", "--n-blocks", "1", "--d-channels", "4", "--d-global-layers", "4",
            "--d-local-layers", "3", "--steps", "1", "--batch-size", "2", "--eval-every", "0",
            "--runs", runs, "--val-fraction", "0"]
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    assert code == 0, err
    masks = sorted(p.name for p in (runs / "masks-photos-32").iterdir())
    assert masks == ["p0.png", "p1.png", "p2.png", "p3.png"]
    assert "no face found in 4 photos" in out  # noise images: the central ellipse is used
    assert len(list(runs.glob("*/generator.safetensors"))) == 1


def test_cli_lr_decay_and_lr_decay_steps_conflict(tmp_path, capsys):
    """Both schedules given: a one-line error before any work, not one silently winning."""
    photos, styles, _ = make_folders(tmp_path, n=4)
    code = main(["train-ugatit", "--photos", str(photos), "--styles", str(styles), "--runs", str(tmp_path / "runs"),
                 "--lr-decay", "--lr-decay-steps", "7"])
    err = capsys.readouterr().err
    assert code != 0 and "not both" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists()


def test_resume_is_exact(tmp_path):
    """2 steps + resume to 4 gives the weights of an uninterrupted 4-step run (workers=0)."""
    cfg = tiny_cfg(tmp_path)
    straight = UGATITTask(cfg, extractor=MeanStdFeatures())
    train(straight, loop_cfg(4, eval_every=0), runs_root=tmp_path / "a")
    first = train(UGATITTask(cfg, extractor=MeanStdFeatures()), loop_cfg(2, eval_every=0),
                  runs_root=tmp_path / "b")
    resumed = UGATITTask(cfg, extractor=MeanStdFeatures())
    train(resumed, loop_cfg(4, eval_every=0), runs_root=tmp_path / "b", resume=first.run_dir)
    for name in ("G_AB", "G_BA"):
        a, b = straight.modules()[name].state_dict(), resumed.modules()[name].state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a), name


def test_cli_lr_decay_is_the_papers_second_half(tmp_path, capsys):
    """--lr-decay is the loop's linear decay over the second half of --steps (U-GAT-IT's schedule)."""
    photos, styles, _ = make_folders(tmp_path, n=4)
    runs = tmp_path / "runs"
    args = ["train-ugatit", "--photos", photos, "--styles", styles, "--size", "32", "--base-channels", "8",
            "--n-blocks", "1", "--d-channels", "4", "--d-global-layers", "4", "--d-local-layers", "3",
            "--steps", "5", "--batch-size", "2", "--eval-every", "0", "--runs", runs, "--val-fraction", "0",
            "--lr-decay"]
    assert main([str(a) for a in args]) == 0, capsys.readouterr().err
    run_dir = next(runs.glob("*-ugatit"))
    assert json.loads((run_dir / "config.json").read_text())["loop"]["lr_decay_steps"] == 3
    # One log line (log_every 20 > 5 steps): the mean factor of steps 0-4 is (1 + 1 + 1 + 2/3 + 1/3) / 5.
    assert [s["lr_factor"] for s in _stats(run_dir)] == pytest.approx([0.8])
