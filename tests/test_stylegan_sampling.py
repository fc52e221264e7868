"""Sampling into datasets: determinism by seed (any batch size, any start seed), paired layout, resume,
exact regeneration from the manifest, saved codes, style mixing, and ``toonforge sample`` errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from toonforge.cli.main import main
from toonforge.errors import InputError
from toonforge.models.stylegan2 import Generator, save_generator
from toonforge.stylegan import read_manifest, regenerate, sample_dataset

TINY = {"style_dim": 16, "n_mlp": 2, "channel_max": 8}
pytestmark = pytest.mark.usefixtures("small_model_cpu")


def _gen(seed: int, **kw) -> Generator:
    torch.manual_seed(seed)
    G = Generator(32, **{**TINY, **kw}).eval()
    with torch.no_grad():
        for i, conv in enumerate([G.conv1, *G.convs]):
            conv.noise.weight.fill_(0.2 + 0.01 * i)
    return G


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("gens")
    return save_generator(d / "photo.safetensors", _gen(1)), save_generator(d / "style.safetensors", _gen(2))


def _img(path):
    return np.asarray(Image.open(path))


def test_same_seed_same_pixels_across_batch_and_start(files, tmp_path):
    _, style = files
    sample_dataset(style, tmp_path / "b1", 4, seed=0, truncation=0.7, batch=1, progress=False)
    sample_dataset(style, tmp_path / "b3", 4, seed=0, truncation=0.7, batch=3, progress=False)
    sample_dataset(style, tmp_path / "s3", 1, seed=3, truncation=0.7, batch=8, progress=False)
    names = sorted(p.name for p in (tmp_path / "b1").glob("*.png"))
    assert names == [f"seed{i:07d}.png" for i in range(4)]
    for name in names:
        assert np.array_equal(_img(tmp_path / "b1" / name), _img(tmp_path / "b3" / name))
    assert np.array_equal(_img(tmp_path / "b1" / "seed0000003.png"), _img(tmp_path / "s3" / "seed0000003.png"))
    assert not np.array_equal(_img(tmp_path / "b1" / names[0]), _img(tmp_path / "b1" / names[1]))
    sample_dataset(style, tmp_path / "fast", 4, seed=0, truncation=0.7, batch=4, exact=False, progress=False)
    for name in names:  # batched forward passes: equal up to float rounding (at most one uint8 level)
        diff = _img(tmp_path / "fast" / name).astype(int) - _img(tmp_path / "b1" / name)
        assert np.abs(diff).max() <= 1


def test_paired_resume_and_regenerate(files, tmp_path):
    photo, style = files
    out = tmp_path / "pairs"
    rep = sample_dataset(style, out, 3, seed=10, source=photo, truncation=0.7, size=24, batch=2, progress=False)
    assert rep.written == [f"seed{i:07d}" for i in (10, 11, 12)]
    photos = sorted(p.name for p in (out / "photo").iterdir())
    assert photos == sorted(p.name for p in (out / "style").iterdir()) and len(photos) == 3
    a, b = _img(out / "photo" / photos[0]), _img(out / "style" / photos[0])
    assert a.shape == (24, 24, 3) and not np.array_equal(a, b)

    (out / "style" / "seed0000011.png").unlink()  # one side missing: the pair is redone
    before = (out / "photo" / "seed0000010.png").stat().st_mtime_ns
    rep = sample_dataset(style, out, 4, seed=10, source=photo, truncation=0.7, size=24, progress=False)
    assert rep.written == ["seed0000011", "seed0000013"] and rep.skipped == ["seed0000010", "seed0000012"]
    assert (out / "photo" / "seed0000010.png").stat().st_mtime_ns == before
    assert {e["name"] for e in read_manifest(out)} == {f"seed{i:07d}" for i in range(10, 14)}

    again = regenerate(out, "seed0000013")
    assert set(again) == {"photo", "style"}
    assert np.array_equal(again["style"], _img(out / "style" / "seed0000013.png"))
    assert np.array_equal(again["photo"], _img(out / "photo" / "seed0000013.png"))

    with pytest.raises(InputError, match="other settings"):
        sample_dataset(style, out, 4, seed=10, source=photo, truncation=0.5, size=24, progress=False)


def test_saved_codes_and_mixing_regenerate_exactly(files, tmp_path):
    _, style = files
    G = _gen(2)
    codes = G.to_wplus(G.style(G.sample_z(3, 7))).detach().numpy()
    np.save(tmp_path / "codes.npy", codes)
    out = tmp_path / "toon"
    rep = sample_dataset(style, out, latents=tmp_path / "codes.npy", mix_layers=[5, 6, 7], progress=False)
    assert rep.written == ["latent0000000", "latent0000001", "latent0000002"]
    entry = read_manifest(out)[1]
    assert entry["latent_index"] == 1 and entry["mix_layers"] == [5, 6, 7] and len(entry["generators"]) == 1
    assert np.array_equal(regenerate(out, "latent0000001")["style"], _img(out / "latent0000001.png"))
    assert json.loads((out / "manifest.jsonl").read_text().splitlines()[0])["generators"]["style"]["sha256"]


def _cli(args, capsys):
    code = main([str(x) for x in args])
    return code, capsys.readouterr().err


def test_sample_command_and_errors(files, tmp_path, capsys):
    photo, style = files
    out = tmp_path / "ds"
    code, err = _cli(["sample", style, "-o", out, "-n", "2", "--paired", photo, "--mix-layers", "4-7",
                      "--quiet"], capsys)
    assert code == 0, err
    assert sorted(p.name for p in (out / "style").iterdir()) == ["seed0000000.png", "seed0000001.png"]
    code, err = _cli(["sample", tmp_path / "nope.safetensors", "-o", out, "-n", "1"], capsys)
    assert code == 2 and err.count("\n") == 1 and "not found" in err
    other = save_generator(tmp_path / "other.safetensors", _gen(3, channel_max=4))
    code, err = _cli(["sample", style, "-o", tmp_path / "x", "-n", "1", "--paired", other], capsys)
    assert code == 2 and err.count("\n") == 1 and "architecture" in err
    code, err = _cli(["sample", style, "-o", tmp_path / "y", "-n", "1", "--mix-layers", "5-99"], capsys)
    assert code == 2 and "out of range" in err
    np.save(tmp_path / "bad.npy", np.zeros((2, 3, 5), np.float32))
    code, err = _cli(["sample", style, "-o", tmp_path / "z", "--latents", tmp_path / "bad.npy"], capsys)
    assert code == 2 and err.count("\n") == 1 and "shape" in err
