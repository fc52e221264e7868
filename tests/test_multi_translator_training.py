"""train-translator --styles: the multi-style translator trained on one pair folder per style, and
the --crop-size / --tone-augment pair augmentations (tiny seeded models, synthetic pairs)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from toonforge.cli.main import main
from toonforge.errors import InputError
from toonforge.models.factory import create_model, load_model
from toonforge.training.loop import LoopConfig, train
from toonforge.training.multi_translator_task import GENERATOR_FILE, MultiTranslatorTask, StyleTaggedPairs
from toonforge.training.paired_data import PairedFolder, item_rng
from toonforge.training.tone_augment import apply_tone, draw_tone, tone_shift_pair
from toonforge.training.translator_task import TranslatorTask, TranslatorTrainConfig

pytestmark = pytest.mark.usefixtures("small_model_cpu")

STYLES = ["dark", "light"]


def make_multi_pairs(root: Path, n: int = 8, size: int = 32, skip: dict[str, set[int]] | None = None) -> Path:
    """root/photos: smooth random images around mid-grey; root/dark: all black, root/light: all
    white (opposite targets, so only the style input can tell the generator which to draw)."""
    (root / "photos").mkdir(parents=True)
    for s in STYLES:
        (root / s).mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        small = rng.integers(64, 192, (4, 4, 3), dtype=np.uint8)
        Image.fromarray(small).resize((size, size), Image.BILINEAR).save(root / "photos" / f"{i:03d}.png")
        for s, value in zip(STYLES, (0, 255)):
            if i not in (skip or {}).get(s, set()):
                Image.fromarray(np.full((size, size, 3), value, np.uint8)).save(root / s / f"{i:03d}.png")
    return root


def cfg_for(root: Path, **kw) -> TranslatorTrainConfig:
    base = dict(inputs=str(root / "photos"), targets=str(root), tier="tiny", size=32, w_perceptual=0.0,
                w_gan=0.1, gan_start=3, d_channels=8, val_fraction=0.25, lr_g=3e-3)
    return TranslatorTrainConfig(**(base | kw))


def loop_cfg(steps: int, **kw) -> LoopConfig:
    base = dict(total_steps=steps, batch_size=4, log_every=5, checkpoint_every=steps, eval_every=steps,
                progress=False, tensorboard=False, ema_decay=0.9)
    return LoopConfig(**(base | kw))


def test_trains_routes_styles_per_sample_and_saves_the_generator(tmp_path, capsys):
    root = make_multi_pairs(tmp_path / "pairs")
    torch.manual_seed(0)
    task = MultiTranslatorTask(cfg_for(root), STYLES)
    batches = list(torch.utils.data.DataLoader(task.dataset(), batch_size=4, shuffle=True))
    assert any(bool((b[2].sum(0) > 0).all()) for b in batches)  # batches mix the styles
    res = train(task, loop_cfg(40), runs_root=tmp_path / "runs")
    stats = [json.loads(line) for line in (res.run_dir / "stats.jsonl").read_text().splitlines()]
    pix = [s["loss/pixel"] for s in stats if "loss/pixel" in s]
    assert pix[-1] < 0.6 * pix[0]
    assert any("loss/D" in s for s in stats)
    last = [s for s in stats if "val/l1" in s][-1]
    assert set(last) >= {"val/l1/dark", "val/l1/light"}
    assert "val_l1" in capsys.readouterr().out

    # On one fixed batch (both styles, no augmentation) the trained EMA generator beats its start.
    from toonforge.training.checkpoint import seed_all

    seed_all(0)  # the start the loop drew
    start = create_model("translator-multi", styles=STYLES, tier="tiny").eval()
    fixed = [PairedFolder(root / "photos", root / s, 32, names=task.style_train[s][:2]) for s in STYLES]
    xb = torch.stack([f[i][0] for f in fixed for i in range(2)])
    yb = torch.stack([f[i][1] for f in fixed for i in range(2)])
    wb = torch.eye(2).repeat_interleave(2, 0)
    with torch.no_grad():
        before, after = ((net_(xb, wb) - yb).abs().mean() for net_ in (start, task.ema["G"]))
    assert float(after) < 0.5 * float(before)

    net, meta, _ = load_model(res.run_dir / GENERATOR_FILE, expect="translator-multi")
    assert net.styles == STYLES and meta.info["step"] == 40 and meta.info["styles"] == STYLES
    x = torch.stack([task.dataset()[i][0] for i in range(2)])
    with torch.no_grad():
        # One batch, one style per sample: the "dark" sample darker than the "light" one of the same photo.
        out = net(torch.cat([x, x]), torch.eye(2).repeat_interleave(2, 0))
    dark, light = out[:2].mean(), out[2:].mean()
    assert float(light - dark) > 0.5
    for p, q in zip(net.state_dict().values(), task.ema["G"].state_dict().values()):
        assert torch.equal(p, q.cpu())


def test_init_from_a_single_style_student_is_that_student_for_every_style(tmp_path):
    root = make_multi_pairs(tmp_path / "pairs")
    torch.manual_seed(1)
    single = create_model("translator", tier="tiny")
    for m in single.modules():  # non-trivial norm statistics and affines, as after training
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2), m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5), m.bias.data.uniform_(-0.2, 0.2)
    from toonforge.models.model_file import save_model

    src = save_model(tmp_path / "single.safetensors", single.eval())
    task = MultiTranslatorTask(cfg_for(root, init_from=str(src)), STYLES)
    task.build(torch.device("cpu"))
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    task.G.eval()
    with torch.no_grad():
        ref = single(x)
        for i in range(len(STYLES)):
            assert torch.allclose(task.G(x, torch.eye(2)[i]), ref, atol=1e-6)


def test_resume_continues_the_step_count_and_refuses_other_styles(tmp_path, capsys):
    root = make_multi_pairs(tmp_path / "pairs", n=10, skip={"light": {7}})
    task = MultiTranslatorTask(cfg_for(root), STYLES)
    assert "1 of the 10 inputs" in capsys.readouterr().err  # the stem missing in one style, counted
    assert len(task.style_train["light"]) + len(task.style_val["light"]) == 9
    assert len(task.style_train["dark"]) + len(task.style_val["dark"]) == 10
    first = train(task, loop_cfg(4, checkpoint_every=2, eval_every=0), runs_root=tmp_path / "runs")
    again = train(MultiTranslatorTask(cfg_for(root), STYLES), loop_cfg(6, eval_every=0), runs_root=tmp_path / "runs",
                  resume=first.run_dir)
    assert (first.step, again.step, again.run_dir) == (4, 6, first.run_dir)
    ckpt = torch.load(first.run_dir / "checkpoints" / "latest.pt", weights_only=True)
    assert ckpt["step"] == 6
    # --init-from a multi checkpoint starts from its EMA generator and its discriminator as they are
    warm = MultiTranslatorTask(cfg_for(root, init_from=str(first.run_dir / "checkpoints" / "latest.pt")), STYLES)
    warm.build(torch.device("cpu"))
    for key, value in ckpt["ema"]["G"].items():
        assert torch.equal(warm.G.state_dict()[key], value)
    for key, value in ckpt["modules"]["D"].items():
        assert torch.equal(warm.D.state_dict()[key], value)
    with pytest.raises(InputError, match="trained styles dark,light"):
        train(MultiTranslatorTask(cfg_for(root), STYLES[::-1]), loop_cfg(8), runs_root=tmp_path / "runs",
              resume=first.run_dir)


def test_crop_size_gives_the_crop_shape_with_the_same_window(tmp_path):
    root = make_multi_pairs(tmp_path / "pairs")
    # target = photo: any shared window keeps them equal, a different one would not
    for f in (root / "photos").iterdir():
        Image.open(f).save(root / "light" / f.name)
    data = PairedFolder(root / "photos", root / "light", 32, None, 0, crop=16)
    torch.manual_seed(0)
    x, y = data[0]
    assert x.shape == y.shape == (3, 16, 16) and torch.equal(x, y)
    task = TranslatorTask(cfg_for(root, targets=str(root / "light"), crop_size=16))
    assert task.dataset()[0][0].shape == (3, 16, 16)
    assert task.val_dataset()[0][0].shape == (3, 32, 32)


def test_tone_augment_is_one_transform_on_photo_and_target_and_seeded():
    rng = np.random.default_rng(3)
    photo = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    target = photo.copy()
    a = tone_shift_pair(photo, target, 1.0, np.random.default_rng(7))
    b = tone_shift_pair(photo, target, 1.0, np.random.default_rng(7))
    assert np.array_equal(a[0], a[1]) and np.array_equal(a[0], b[0])  # same transform, deterministic
    assert a[0].astype(float).mean() < photo.astype(float).mean()  # darker
    r, g, bl = (a[0][..., c].astype(float).sum() / max(1, photo[..., c].astype(float).sum()) for c in range(3))
    assert r >= g >= bl  # a warm tint: blue lowered most
    off = tone_shift_pair(photo, target, 0.0, np.random.default_rng(7))
    assert off[0] is photo and off[1] is target
    white = np.full((1, 1, 3), 255, np.uint8)
    gains = draw_tone(np.random.default_rng(0))
    assert np.allclose(apply_tone(white, gains)[0, 0] / 255.0,
                       1.055 * gains ** (1 / 2.4) - 0.055, atol=1 / 255)


def test_tone_augment_in_the_dataset_moves_photo_and_target_alike(tmp_path):
    root = make_multi_pairs(tmp_path / "pairs")
    plain = PairedFolder(root / "photos", root / "light", 32, None, 0)
    toned = PairedFolder(root / "photos", root / "light", 32, None, 0, tone_p=1.0)
    torch.manual_seed(0)
    x0, y0 = plain[0]
    x1, y1 = toned[0]
    assert float(x1.mean()) < float(x0.mean()) and float(y1.mean()) < float(y0.mean())
    torch.manual_seed(0)
    rng = item_rng(0, 0)
    _, expect = tone_shift_pair(np.zeros((1, 1, 3), np.uint8), np.full((1, 1, 3), 255, np.uint8), 1.0, rng)
    assert torch.allclose(y1[:, 0, 0], torch.from_numpy(expect[0, 0]).float() / 127.5 - 1)


def test_style_tagged_pairs_draw_styles_evenly(tmp_path):
    root = make_multi_pairs(tmp_path / "pairs", n=6, skip={"dark": {0, 1, 2}})
    folders = [PairedFolder(root / "photos", root / s, 32) for s in STYLES]
    data = StyleTaggedPairs(folders)
    counts = torch.stack([data[i][2] for i in range(len(data))]).sum(0)
    assert len(data) == 12 and counts.tolist() == [6.0, 6.0]


@pytest.mark.parametrize("styles, msg", [
    ("dark,nope", "no folder"), ("dark", "two or more"), ("dark,light,dark", "more than once")])
def test_bad_styles_are_one_line_errors(tmp_path, capsys, styles, msg):
    root = make_multi_pairs(tmp_path / "pairs", n=2)
    code = main(["train-translator", "--photos", str(root / "photos"), "--targets", str(root), "--styles", styles,
                 "--tier", "tiny", "--size", "32", "--steps", "1", "--runs", str(tmp_path / "runs"), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err[-1].startswith("error: ") and msg in err[-1] and "Traceback" not in "".join(err)


def test_output_writes_a_multi_style_folder_that_stylizes(tmp_path, capsys):
    from toonforge.pipelines import Stylizer
    from toonforge.styles.registry import load_style
    from toonforge.training.export_style import installed_settings

    root = make_multi_pairs(tmp_path / "pairs", n=4)
    code = main(["train-translator", "--photos", str(root / "photos"), "--targets", str(root), "--styles", "dark,light",
                 "--tier", "tiny", "--size", "32", "--steps", "2", "--runs", str(tmp_path / "runs"), "--quiet",
                 "--head-resolution", "32", "--batch-size", "2", "-o", str(tmp_path / "style")])
    assert code == 0 and "multi-style folder written" in capsys.readouterr().out
    style = load_style(tmp_path / "style")
    assert [e.name for e in style.config.styles] == STYLES and (tmp_path / "style" / "head.onnx").is_file()
    photo = np.asarray(Image.open(root / "photos" / "000.png").convert("RGB"))
    dark, light = (Stylizer(tmp_path / "style", detector=None, mix={s: 1.0})(photo).image for s in STYLES)
    assert dark.shape == photo.shape and not np.array_equal(dark, light)
    assert installed_settings(["anime", "dark"]) == {"anime": "anime", "dark": {}}
