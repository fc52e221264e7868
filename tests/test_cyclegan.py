"""CycleGAN baseline: ResNet generator size, image pool, cycle loss, trainer resume and files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from toonforge.cli.main import main
from toonforge.models.factory import create_model
from toonforge.models.generator_file import load_generator_file
from toonforge.training.cyclegan_task import CycleGANConfig, CycleGANTask, ImagePool, cycle_generator_losses
from toonforge.training.loop import LoopConfig, train

pytestmark = pytest.mark.usefixtures("small_model_cpu")


class MeanColour:
    """A cheap stand-in FD extractor: per-channel means and standard deviations."""

    name, fd_label, dim = "mean", "FD-mean", 6

    def __call__(self, images: np.ndarray) -> np.ndarray:
        x = images.reshape(len(images), -1, 3).astype(np.float64)
        return np.concatenate([x.mean(1), x.std(1)], axis=1)


def make_domains(root: Path, n: int = 8, size: int = 32) -> tuple[Path, Path]:
    """Photos: smooth random images; styles: flat, posterised, warmer versions of others."""
    photos, styles = root / "photos", root / "styles"
    photos.mkdir(parents=True)
    styles.mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        small = rng.integers(0, 255, (4, 4, 3), dtype=np.uint8)
        img = np.asarray(Image.fromarray(small).resize((size, size), Image.BILINEAR))
        Image.fromarray(img).save(photos / f"p{i:02d}.png")
        small = rng.integers(0, 255, (4, 4, 3), dtype=np.uint8)
        img = np.asarray(Image.fromarray(small).resize((size, size), Image.NEAREST))
        img = (img // 64 * 64 + 32).astype(np.uint8)
        img[..., 0] = np.maximum(img[..., 0], 160)
        Image.fromarray(img).save(styles / f"s{i:02d}.png")
    return photos, styles


def tiny_cfg(photos: Path, styles: Path, **kw) -> CycleGANConfig:
    base = dict(photos=str(photos), styles=str(styles), size=32, base_channels=4, n_blocks=1,
                d_channels=4, d_layers=2, pool_size=3, val_fraction=0.25, val_max=4)
    return CycleGANConfig(**{**base, **kw})


def loop(steps: int, **kw) -> LoopConfig:
    base = dict(total_steps=steps, batch_size=2, log_every=1, checkpoint_every=2, eval_every=2,
                progress=False, tensorboard=False, ema_decay=0.9)
    return LoopConfig(**{**base, **kw})


def test_resnet_generator_matches_the_published_parameter_count():
    torch.manual_seed(0)
    net = create_model("resnet_generator", in_channels=3, out_channels=3, base_channels=64, n_blocks=9)
    assert sum(p.numel() for p in net.parameters()) == 11_378_179
    small = create_model("resnet_generator", base_channels=4, n_blocks=2).eval()
    with torch.no_grad():
        y = small(torch.rand(1, 3, 24, 40) * 2 - 1)
    assert y.shape == (1, 3, 24, 40) and y.abs().max() <= 1
    assert small.config == {"in_channels": 3, "out_channels": 3, "base_channels": 4, "n_blocks": 2}


def test_image_pool_fills_then_swaps_and_restores_exactly():
    pool = ImagePool(size=3, seed=0)
    first = torch.arange(2.0).view(2, 1, 1, 1)
    assert torch.equal(pool.query(first), first) and len(pool) == 2  # filling: returned as is
    out = pool.query(torch.tensor([2.0, 3.0]).view(2, 1, 1, 1))
    assert len(pool) == 3 and out[0].item() == 2.0  # the third fills the pool
    state = pool.state_dict()
    twin = ImagePool(size=3, seed=99)
    twin.load_state_dict(state)
    seen = set()
    for k in range(20):
        batch = torch.full((4, 1, 1, 1), 10.0 + k)
        a, b = pool.query(batch), twin.query(batch)
        assert torch.equal(a, b) and len(pool) == 3
        seen |= {float(v) for v in a.flatten()}
    assert any(v < 10 for v in seen) and any(v >= 10 for v in seen)  # both old and new come back
    assert torch.equal(ImagePool(0).query(first), first)


def test_cycle_loss_is_zero_for_identity_generators():
    torch.manual_seed(0)
    D = create_model("patch_discriminator", base_channels=4, n_layers=2, norm="instance", spectral_norm=False)
    a, b = torch.rand(2, 3, 16, 16) * 2 - 1, torch.rand(2, 3, 16, 16) * 2 - 1
    terms, fake_a, fake_b = cycle_generator_losses(nn.Identity(), nn.Identity(), D, D, a, b)
    assert {"adv_AB", "adv_BA", "cycle_A", "cycle_B", "idt_A", "idt_B"} == set(terms)
    for k in ("cycle_A", "cycle_B", "idt_A", "idt_B"):
        assert float(terms[k]) == 0.0
    assert torch.equal(fake_a, b) and torch.equal(fake_b, a)
    swap = lambda x: -x  # noqa: E731  an involution: cycle 0, identity not
    terms, _, _ = cycle_generator_losses(swap, swap, D, D, a, b, lambda_identity=0.0)
    assert float(terms["cycle_A"]) == 0.0 and "idt_A" not in terms


def test_trains_validates_writes_files_and_resumes_exactly(tmp_path):
    photos, styles = make_domains(tmp_path)
    ref = train(CycleGANTask(tiny_cfg(photos, styles), extractor=MeanColour()), loop(4), runs_root=tmp_path / "ref")
    stats = [json.loads(x) for x in (ref.run_dir / "stats.jsonl").read_text().splitlines()]
    assert all(np.isfinite(v) for s in stats for k, v in s.items() if k.startswith("loss/"))
    assert any("val/fd" in s for s in stats) and any("loss/G_cycle_A" in s for s in stats)
    net, info = load_generator_file(ref.run_dir / "generator.safetensors")
    assert info["task"] == "cyclegan" and info["step"] == 4 and info["size"] == 32
    assert net.config["n_blocks"] == 1
    _, best = load_generator_file(ref.run_dir / "best_generator.safetensors")
    assert best["step"] in (2, 4) and np.isfinite(best["val_fd"])

    cut = train(CycleGANTask(tiny_cfg(photos, styles), extractor=MeanColour()), loop(2), runs_root=tmp_path / "cut")
    ckpt = torch.load(cut.run_dir / "checkpoints" / "latest.pt", weights_only=True)
    assert ckpt["step"] == 2 and len(ckpt["extra"]["pool_a"]["images"]) == 3
    res = train(CycleGANTask(tiny_cfg(photos, styles), extractor=MeanColour()), loop(4),
                runs_root=tmp_path / "cut", resume=cut.run_dir)
    assert res.step == 4 and res.run_dir == cut.run_dir
    a = torch.load(ref.run_dir / "checkpoints" / "latest.pt", weights_only=True)
    b = torch.load(res.run_dir / "checkpoints" / "latest.pt", weights_only=True)
    for name in ("G_AB", "G_BA", "D_A", "D_B"):
        for k, v in a["modules"][name].items():
            torch.testing.assert_close(b["modules"][name][k], v, rtol=1e-6, atol=1e-7)
    for k, v in a["ema"]["G_AB"].items():
        torch.testing.assert_close(b["ema"]["G_AB"][k], v, rtol=1e-6, atol=1e-7)
    assert torch.equal(a["extra"]["pool_b"]["images"], b["extra"]["pool_b"]["images"])
    assert a["extra"]["snapshots"] == b["extra"]["snapshots"]


def test_cli_bad_folder_is_one_line_error(tmp_path, capsys):
    code = main(["train-cyclegan", "--photos", str(tmp_path / "nope"), "--styles", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error:") and len(err.strip().splitlines()) == 1
