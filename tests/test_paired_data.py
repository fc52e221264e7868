"""Paired dataset and augmentation: pairing by stem, errors, shared geometry, split."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from toonforge.errors import InputError
from toonforge.training.augment import AugmentConfig, augment_pair
from toonforge.training.paired_data import PairedFolder, split_names


def _pattern(h: int = 48, w: int = 48, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
    img[: h // 3, : w // 3] = (250, 10, 10)  # an asymmetric marker so flips show
    return img


def _write(folder: Path, name: str, img: np.ndarray) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img).save(folder / name)


@pytest.fixture
def pair_dirs(tmp_path: Path) -> tuple[Path, Path]:
    inp, tgt = tmp_path / "photos", tmp_path / "styled"
    for i, name in enumerate(["a", "b", "c"]):
        img = _pattern(seed=i)
        _write(inp, f"{name}.png", img)
        _write(tgt, f"{name}.png" if name != "b" else f"{name}.bmp", img)  # any extension pairs
    _write(inp, "only_input.png", _pattern(seed=9))
    _write(tgt, "only_target.png", _pattern(seed=8))
    (inp / "notes.txt").write_text("not an image")
    return inp, tgt


def test_pairs_by_stem(pair_dirs):
    ds = PairedFolder(*pair_dirs, size=32)
    assert ds.names == ["a", "b", "c"] and len(ds) == 3
    x, y = ds[1]
    assert x.shape == (3, 32, 32) and y.shape == (3, 32, 32)
    assert x.dtype == torch.float32 and x.min() >= -1 and x.max() <= 1
    assert torch.equal(x, y)  # identical files, no augmentation
    only = PairedFolder(*pair_dirs, size=16, names=["c"])
    assert only.names == ["c"]
    with pytest.raises(InputError, match="no pair"):
        PairedFolder(*pair_dirs, size=16, names=["only_input"])


def test_errors_name_folders_and_counts(tmp_path, pair_dirs):
    inp, _ = pair_dirs
    with pytest.raises(InputError, match="target folder not found"):
        PairedFolder(inp, tmp_path / "nope", size=16)
    other = tmp_path / "other"
    _write(other, "zzz.png", _pattern())
    with pytest.raises(InputError) as info:
        PairedFolder(inp, other, size=16)
    msg = str(info.value)
    assert str(inp) in msg and str(other) in msg and "(4 images)" in msg and "(1 images)" in msg
    assert "\n" not in msg


def test_non_square_is_centre_cropped(tmp_path):
    img = np.zeros((40, 80, 3), np.uint8)
    img[:, 20:60] = 255  # the centre square is white, the sides black
    _write(tmp_path / "i", "x.png", img)
    _write(tmp_path / "t", "x.png", img)
    x, _ = PairedFolder(tmp_path / "i", tmp_path / "t", size=20)[0]
    assert torch.allclose(x, torch.ones_like(x))


def test_same_geometry_on_both():
    rng_img = _pattern(64, 64)
    cfg = AugmentConfig(color_jitter=0.0, scale=(0.8, 1.2), rotate_deg=20, translate=0.1)
    for seed in range(5):
        a, b = augment_pair(rng_img, rng_img.copy(), cfg, np.random.default_rng(seed))
        assert np.array_equal(a, b)
        assert a.shape == rng_img.shape and a.dtype == np.uint8
    a1, _ = augment_pair(rng_img, rng_img, cfg, np.random.default_rng(7))
    a2, _ = augment_pair(rng_img, rng_img, cfg, np.random.default_rng(7))
    assert np.array_equal(a1, a2)
    assert not np.array_equal(a1, rng_img)


def test_flip_only_and_colour_on_input_only():
    img = _pattern(32, 32)
    flip_cfg = AugmentConfig(scale=(1.0, 1.0), rotate_deg=0.0, translate=0.0, color_jitter=0.0)
    seen = set()
    for seed in range(8):
        a, _ = augment_pair(img, img, flip_cfg, np.random.default_rng(seed))
        assert np.array_equal(a, img) or np.array_equal(a, img[:, ::-1])
        seen.add(np.array_equal(a, img))
    assert seen == {True, False}
    colour_cfg = AugmentConfig(flip=False, scale=(1.0, 1.0), rotate_deg=0.0, translate=0.0,
                               color_jitter=0.3, p_color=1.0)
    a, b = augment_pair(img, img, colour_cfg, np.random.default_rng(0))
    assert np.array_equal(b, img) and not np.array_equal(a, img)


def test_dataset_augmentation_deterministic(pair_dirs):
    cfg = AugmentConfig(color_jitter=0.0)

    def run() -> list[torch.Tensor]:
        torch.manual_seed(123)
        ds = PairedFolder(*pair_dirs, size=32, augment=cfg, seed=5)
        return [ds[i][0] for i in range(3)] + [ds[0][0]]

    first, second = run(), run()
    assert all(torch.equal(p, q) for p, q in zip(first, second))
    # Same pair across calls (a new counter value) gets a different draw in general.
    draws = [first[0]]
    torch.manual_seed(123)
    ds = PairedFolder(*pair_dirs, size=32, augment=cfg, seed=5)
    draws += [ds[0][0] for _ in range(4)]
    assert any(not torch.equal(draws[1], d) for d in draws[2:])
    x, y = ds[2]
    assert torch.equal(x, y)  # identical images, colour off: geometry is shared


def test_split_names_deterministic():
    names = [f"img_{i:04d}" for i in range(400)]
    train, val = split_names(names, 0.2, seed=0)
    assert (train, val) == split_names(list(reversed(names)), 0.2, seed=0)
    assert set(train) | set(val) == set(names) and not set(train) & set(val)
    assert 40 < len(val) < 120
    # Adding names never moves the existing ones.
    train2, val2 = split_names(names + ["new_1", "new_2"], 0.2, seed=0)
    assert set(val) <= set(val2) and set(train) <= set(train2)
    assert split_names(names, 0.2, seed=1)[1] != val
    assert split_names(["only", "two"], 0.01)[1] != []
    assert split_names(names, 0.0) == (sorted(names), [])
    with pytest.raises(InputError):
        split_names(names, 1.5)
    # Stable across machines: the hash is sha256, not Python's salted hash().
    # A pinned result: changing the hashing would silently reshuffle everyone's hold-out sets.
    assert split_names([f"n{i}" for i in range(10)], 0.3, seed=0) == (
        ["n0", "n2", "n3", "n8", "n9"], ["n1", "n4", "n5", "n6", "n7"])


def test_split_names_warns_when_names_were_split_before_with_the_same_seed(caplog):
    names = [f"img_{i:04d}" for i in range(1000)]
    rest, held = split_names(names, 0.1, seed=0)  # e.g. a test set removed by a recipe
    with caplog.at_level(logging.WARNING, logger="toonforge.training.paired_data"):
        _, val = split_names(rest, 0.1, seed=0)
    assert len(val) == 1 and "pass another --seed" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="toonforge.training.paired_data"):
        _, val = split_names(rest, 0.1, seed=1)
    assert 50 < len(val) < 130 and not set(val) & set(held) and caplog.text == ""


def _pairs(root: Path, n_inputs: int, n_targets: int) -> tuple[Path, Path]:
    inp, tgt = root / "in", root / "out"
    for i in range(n_inputs):
        _write(inp, f"p{i}.png", _pattern(16, 16, seed=i))
    for i in range(n_targets):
        _write(tgt, f"p{i}.png", _pattern(16, 16, seed=100 + i))
    return inp, tgt


def test_missing_targets_are_reported_and_refused_below_the_share(tmp_path: Path, capsys) -> None:
    from toonforge.training.translator_task import TranslatorTask, TranslatorTrainConfig

    inp, tgt = _pairs(tmp_path, 10, 5)
    cfg = TranslatorTrainConfig(inputs=str(inp), targets=str(tgt), size=16, val_fraction=0.0)
    with pytest.raises(InputError, match=r"only 5 of the 10 inputs .* --allow-missing-targets"):
        TranslatorTask(cfg)
    task = TranslatorTask(cfg, allow_missing_targets=True)
    assert task.train_names == [f"p{i}" for i in range(5)]
    err = capsys.readouterr().err
    assert "5 pairs; 5 of the 10 inputs" in err and "p5, p6, p7, p8, p9" in err


def test_a_corrupt_image_is_skipped_and_named_before_training(tmp_path: Path, capsys) -> None:
    from toonforge.training.translator_task import TranslatorTask, TranslatorTrainConfig
    from toonforge.training.unpaired_data import DomainFolder

    inp, tgt = _pairs(tmp_path, 20, 20)
    (tgt / "p3.png").write_bytes((tgt / "p3.png").read_bytes()[:60])  # cut short in a copy
    cfg = TranslatorTrainConfig(inputs=str(inp), targets=str(tgt), size=16, val_fraction=0.0)
    task = TranslatorTask(cfg)
    assert "p3" not in task.train_names and len(task.train_names) == 19
    assert "skipping 1 unreadable target image(s): p3.png" in capsys.readouterr().err
    assert len(task.dataset()) == 19
    styles = DomainFolder(tgt, 16, label="style")
    assert [f.name for f in styles.files] == [f"p{i}.png" for i in sorted(range(20), key=str) if i != 3]
    assert "unreadable style image(s): p3.png" in capsys.readouterr().err
    assert styles.image(0).shape == (16, 16, 3)
