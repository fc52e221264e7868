"""DCT-Net texture translation: trainer steps, exact resume, generator files, calibration, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from test_cyclegan import MeanColour, make_domains
from toonforge.cli.main import main
from toonforge.errors import InputError
from toonforge.losses.perceptual import PerceptualLoss
from toonforge.models.generator_file import load_generator_file
from toonforge.training.dctnet_task import DCTNetConfig, DCTNetTask, _UnionDomain, geometry_expansion
from toonforge.training.loop import LoopConfig, train

pytestmark = pytest.mark.usefixtures("small_model_cpu")


class TinyFeatures(nn.Module):
    """Two seeded conv maps (strides 2 and 4) standing in for MobileNetV2 in the content loss."""

    def __init__(self) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.register_buffer("w1", torch.randn(4, 3, 3, 3, generator=g) * 0.3)
        self.register_buffer("w2", torch.randn(4, 4, 3, 3, generator=g) * 0.3)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        a = torch.relu(nn.functional.conv2d(x, self.w1, stride=2, padding=1))
        return [a, torch.relu(nn.functional.conv2d(a, self.w2, stride=2, padding=1))]


def tiny_cfg(photos: Path, styles: Path, **kw) -> DCTNetConfig:
    base = dict(photos=str(photos), styles=str(styles), size=32, channels=4, num_blocks=1, d_channels=4,
                d_layers=2, surface_radius=2, val_fraction=0.25, val_max=4)
    return DCTNetConfig(**{**base, **kw})


def task(cfg: DCTNetConfig) -> DCTNetTask:
    return DCTNetTask(cfg, perceptual=PerceptualLoss(TinyFeatures()), extractor=MeanColour(), progress=False)


def loop(steps: int, **kw) -> LoopConfig:
    base = dict(total_steps=steps, batch_size=2, log_every=1, checkpoint_every=2, eval_every=2,
                progress=False, tensorboard=False, ema_decay=0.9)
    return LoopConfig(**{**base, **kw})


def test_geometry_expansion_ranges():
    aug = geometry_expansion()
    assert aug.flip and aug.scale == (0.8, 1.2) and aug.rotate_deg == 30.0 and aug.color_jitter == 0.0


def test_trains_writes_files_and_resumes_exactly(tmp_path):
    photos, styles = make_domains(tmp_path)
    ref = train(task(tiny_cfg(photos, styles)), loop(4), runs_root=tmp_path / "ref")
    stats = [json.loads(x) for x in (ref.run_dir / "stats.jsonl").read_text().splitlines()]
    losses = {k for s in stats for k in s if k.startswith("loss/")}
    assert {"loss/G_surface", "loss/G_texture", "loss/G_content", "loss/G_tv", "loss/D_surface",
            "loss/D_texture"} <= losses
    assert all(np.isfinite(v) for s in stats for k, v in s.items() if k.startswith("loss/"))
    assert any("val/fd" in s for s in stats)
    net, info = load_generator_file(ref.run_dir / "generator.safetensors")
    assert info == {"task": "dctnet", "step": 4, "size": 32}
    assert net.model_name == "texture_unet" and net.config == {"channels": 4, "num_blocks": 1}
    _, best = load_generator_file(ref.run_dir / "best_generator.safetensors")
    assert best["step"] in (2, 4) and np.isfinite(best["val_fd"])
    conf = json.loads((ref.run_dir / "config.json").read_text())["task"]
    assert conf["photo_val"] >= 1 and conf["style_val"] >= 2 and conf["n_calibration"] == 0

    # Stop after 2 steps (a time budget of 0 stops after the first step: use 2 steps), resume.
    cut = train(task(tiny_cfg(photos, styles)), loop(2), runs_root=tmp_path / "cut")
    res = train(task(tiny_cfg(photos, styles)), loop(4), runs_root=tmp_path / "cut", resume=cut.run_dir)
    assert (res.step, res.run_dir) == (4, cut.run_dir)
    a = torch.load(ref.run_dir / "checkpoints" / "latest.pt", weights_only=True)
    b = torch.load(res.run_dir / "checkpoints" / "latest.pt", weights_only=True)
    for group in ("modules", "ema"):
        for name, state in a[group].items():
            for k, v in state.items():
                torch.testing.assert_close(b[group][name][k], v, rtol=1e-6, atol=1e-7)
    assert a["extra"] == b["extra"]


def test_stop_on_time_budget_then_resume(tmp_path):
    photos, styles = make_domains(tmp_path, n=4)
    cfg = dict(val_fraction=0.0, w_content=0.0, gan_start=1)
    first = train(task(tiny_cfg(photos, styles, **cfg)), loop(3, max_minutes=0.0, eval_every=0), runs_root=tmp_path)
    assert first.stopped_early and first.step == 1
    assert not (first.run_dir / "best_generator.safetensors").exists()
    again = train(task(tiny_cfg(photos, styles, **cfg)), loop(3, eval_every=0), runs_root=tmp_path,
                  resume=first.run_dir)
    assert again.step == 3
    assert load_generator_file(again.run_dir / "generator.safetensors")[1]["step"] == 3


@pytest.mark.parametrize("term", ["colour", "structure"])
def test_optional_term_is_logged_recorded_and_changes_training(tmp_path, term):
    photos, styles = make_domains(tmp_path, n=4)
    base = dict(val_fraction=0.0, gan_start=1, structure_cell=8)
    plain = train(task(tiny_cfg(photos, styles, **base)), loop(2, eval_every=0), runs_root=tmp_path / "a")
    extra = train(task(tiny_cfg(photos, styles, **{f"w_{term}": 5.0}, **base)), loop(2, eval_every=0),
                  runs_root=tmp_path / "b")
    stats = [json.loads(x) for x in (extra.run_dir / "stats.jsonl").read_text().splitlines()]
    assert all(s[f"loss/G_{term}"] >= 0 for s in stats if "loss/G" in s)
    assert f"loss/G_{term}" not in (plain.run_dir / "stats.jsonl").read_text()
    assert json.loads((extra.run_dir / "config.json").read_text())["task"][f"w_{term}"] == 5.0
    a = load_generator_file(plain.run_dir / "generator.safetensors")[0].state_dict()
    b = load_generator_file(extra.run_dir / "generator.safetensors")[0].state_dict()
    assert any(not torch.equal(a[k], b[k]) for k in a)


def test_structure_term_alone_needs_no_content_term_and_checks_its_cell(tmp_path):
    photos, styles = make_domains(tmp_path, n=4)
    t = task(tiny_cfg(photos, styles, val_fraction=0.0, w_content=0.0, w_structure=1.0, structure_cell=8))
    res = train(t, loop(1, eval_every=0), runs_root=tmp_path / "r")
    stats = (res.run_dir / "stats.jsonl").read_text()
    assert "loss/G_structure" in stats and "loss/G_content" not in stats
    with pytest.raises(InputError, match="structure-cell"):
        task(tiny_cfg(photos, styles, structure_cell=64))


def test_content_calibration_samples_once_and_adds_style_images(tmp_path):
    from toonforge.models.stylegan2 import Generator, save_generator

    photos, styles = make_domains(tmp_path, n=4)
    torch.manual_seed(0)
    gen = save_generator(tmp_path / "G.safetensors", Generator(32, style_dim=16, n_mlp=2, channel_max=8))
    cal = tmp_path / "cal"
    cfg = tiny_cfg(photos, styles, style_generator=str(gen), calibration_samples=3, calibration_dir=str(cal),
                   val_fraction=0.0)
    t = task(cfg)
    assert t.calibration == [f"seed{i:07d}" for i in range(3)]
    assert len(list(cal.glob("*.png"))) == 3
    stamp = (cal / "seed0000000.png").stat().st_mtime_ns
    t2 = task(cfg)  # resumable: nothing is sampled again
    assert (cal / "seed0000000.png").stat().st_mtime_ns == stamp and t2.calibration == t.calibration
    t.build(torch.device("cpu"))
    data = t.dataset()
    assert isinstance(data.styles, _UnionDomain) and len(data.styles) == 4 + 3 and len(data) == 7
    assert data.styles.image(6).shape == (32, 32, 3)
    res = train(t, loop(1, eval_every=0), runs_root=tmp_path / "runs")
    assert res.step == 1


def test_cli_errors_are_one_line(tmp_path, capsys):
    photos, styles = make_domains(tmp_path, n=2)
    for args in (["--photos", str(tmp_path / "nope"), "--styles", str(styles)],
                 ["--photos", str(photos), "--styles", str(styles), "--style-generator", str(tmp_path / "G.pt")],
                 ["--photos", str(photos), "--styles", str(styles), "--size", "36"],
                 ["--photos", str(photos), "--styles", str(styles), "--size", "16", "--structure-cell", "1"]):
        code = main(["train-dctnet", *args, "--runs", str(tmp_path / "runs")])
        err = capsys.readouterr().err
        assert code == 2 and err.startswith("error:") and len(err.strip().splitlines()) == 1, err


def test_cli_passes_the_colour_and_structure_settings_to_the_run(tmp_path):
    photos, styles = make_domains(tmp_path, n=4)
    code = main(["train-dctnet", "--photos", str(photos), "--styles", str(styles), "--size", "16", "--channels", "4",
                 "--num-blocks", "1", "--d-channels", "4", "--steps", "1", "--batch-size", "2", "--w-content", "0",
                 "--w-colour", "3", "--colour-relative", "--w-structure", "2", "--structure-cell", "8",
                 "--structure-ink", "0", "--val-fraction", "0", "--eval-every", "0", "--workers", "0",
                 "--runs", str(tmp_path / "runs")])
    assert code == 0
    (run,) = (tmp_path / "runs").iterdir()
    conf = json.loads((run / "config.json").read_text())["task"]
    assert (conf["w_colour"], conf["colour_relative"]) == (3.0, True)
    assert (conf["w_structure"], conf["structure_cell"], conf["structure_ink"]) == (2.0, 8, None)
    stats = (run / "stats.jsonl").read_text()
    assert "loss/G_structure" in stats and "loss/G_colour" in stats
