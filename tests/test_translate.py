"""``toonforge translate``: stage-2 generator -> photo/style pairs (layout, pixel parity, resume, refusals)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from conftest import FacesOnlyOn, shared_data, synthetic_face
from toonforge.cli.main import main
from toonforge.errors import CheckpointError
from toonforge.models.factory import create_model
from toonforge.models.generator_file import load_generator_file, save_generator_file
from toonforge.pipelines.translate import (
    generator_output,
    resolve_generator,
    run_generator,
    square_image,
    translate_folder,
)

pytestmark = pytest.mark.usefixtures("small_model_cpu")
SIZE = 32


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A fake stage-2 run: generator.safetensors (step 5) and best_generator.safetensors (step 3)."""
    root = tmp_path_factory.mktemp("run")
    for name, seed, step in (("generator", 0, 5), ("best_generator", 1, 3)):
        torch.manual_seed(seed)
        net = create_model("translator", tier="tiny")
        save_generator_file(root / f"{name}.safetensors", net, {"task": "translator", "step": step, "size": SIZE})
    return root


def _photos(folder: Path, shapes=((40, 30), (32, 48), (50, 50))) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i, (h, w) in enumerate(shapes):
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(folder / f"p{i}.png")
    return folder


def _translate(run_dir, photos, out, *extra) -> int:
    return main(["translate", "--model", str(run_dir), "--in", str(photos), "--out", str(out), "--quiet", *extra])


def _manifest(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]


def _mtimes(folder: Path) -> dict[str, int]:
    return {str(f): f.stat().st_mtime_ns for f in sorted(folder.rglob("*.png"))}


def test_generator_output_accepts_tensors_tuples_and_named_tuples():
    class Out(NamedTuple):
        cam_logit: torch.Tensor
        out: torch.Tensor

    class TupleNet(nn.Module):  # U-GAT-IT-like: (image, cam logits, heatmap)
        def forward(self, x):
            return torch.tanh(x * 2), torch.zeros(len(x), 2), torch.zeros(len(x), 1, 4, 4)

    x = torch.rand(2, 3, 16, 16) * 2 - 1
    assert torch.equal(generator_output(TupleNet()(x)), torch.tanh(x * 2))
    assert generator_output(Out(torch.zeros(2), x)) is x  # the ``out`` field, not the first one
    assert generator_output(x) is x and generator_output([x, 1]) is x
    with pytest.raises(CheckpointError, match="not an image tensor"):
        generator_output("nope")
    crops = [np.full((16, 16, 3), v, np.uint8) for v in (0, 128, 255)]
    got = run_generator(TupleNet(), crops)
    want = np.clip((np.tanh((np.float32(crops) / 127.5 - 1) * 2) + 1) * 127.5 + 0.5, 0, 255).astype(np.uint8)
    assert np.abs(np.stack(got).astype(int) - want).max() <= 1


def test_square_image_keeps_the_aspect():
    wide = np.zeros((10, 30, 3), np.uint8)
    wide[:, :15] = 200
    sq = square_image(wide, 30)
    assert sq.shape == (30, 30, 3)
    assert np.array_equal(sq[10:20], wide)  # centred, unscaled: the photo sits in the middle rows
    assert square_image(np.zeros((1, 7, 3), np.uint8), 16).shape == (16, 16, 3)


def test_resolve_generator(run_dir, tmp_path):
    assert resolve_generator(run_dir).name == "best_generator.safetensors"
    assert resolve_generator(run_dir, last=True).name == "generator.safetensors"
    assert resolve_generator(run_dir / "generator.safetensors").name == "generator.safetensors"
    with pytest.raises(CheckpointError, match="holds no"):
        resolve_generator(tmp_path)
    with pytest.raises(CheckpointError, match="not found"):
        resolve_generator(tmp_path / "x.safetensors")


def test_full_crop_pairs_match_the_network(run_dir, tmp_path, capsys):
    photos, out = _photos(tmp_path / "in"), tmp_path / "pairs"
    assert _translate(run_dir, photos, out, "--crop", "full") == 0, capsys.readouterr().err
    stems = sorted(f.stem for f in photos.iterdir())
    for part in ("photo", "style"):
        files = sorted((out / part).iterdir())
        assert [f.stem for f in files] == stems
        assert all(Image.open(f).size == (SIZE, SIZE) for f in files)
    net, _ = load_generator_file(run_dir / "best_generator.safetensors")
    for stem in stems:
        photo = np.array(Image.open(out / "photo" / f"{stem}.png").convert("RGB"))
        style = np.asarray(Image.open(out / "style" / f"{stem}.png").convert("RGB")).astype(int)
        with torch.no_grad():
            y = net(torch.from_numpy(photo).permute(2, 0, 1)[None].float() / 127.5 - 1)
        mine = ((y[0].permute(1, 2, 0).numpy() + 1) * 127.5).clip(0, 255)
        assert np.abs(style - mine).max() <= 1.0 + 1e-3
    recs = _manifest(out)
    assert [r["stem"] for r in recs] == stems and {r["crop"] for r in recs} == {"full"}
    assert recs[0]["step"] == 3 and recs[0]["face_box"] is None and len(recs[0]["model_sha256"]) == 16
    assert recs[0]["source"] == str(photos / "p0.png") and recs[0]["model"].endswith("best_generator.safetensors")
    assert (out / "sheet.png").is_file()


def test_resume_skips_done_and_never_overwrites(run_dir, tmp_path, capsys):
    photos, out = _photos(tmp_path / "in"), tmp_path / "pairs"
    assert _translate(run_dir, photos, out, "--crop", "full", "--limit", "2") == 0
    before = _mtimes(out / "photo") | _mtimes(out / "style")
    assert len(before) == 4
    # p2 is new, but a stray style/p2.png (not in the manifest) must survive; bad.png is skipped.
    (out / "style" / "p2.png").write_bytes(b"mine")
    (photos / "bad.png").write_bytes(b"not an image")
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(photos / "p3.png")
    capsys.readouterr()
    assert _translate(run_dir, photos, out, "--crop", "full") == 0
    err = capsys.readouterr().err
    assert "bad.png" in err and "p2.png exists but is not in manifest.jsonl" in err
    assert (out / "style" / "p2.png").read_bytes() == b"mine" and not (out / "photo" / "p2.png").exists()
    after = _mtimes(out / "photo") | _mtimes(out / "style")
    assert all(after[f] == t for f, t in before.items())
    assert [r["stem"] for r in _manifest(out)] == ["p0", "p1", "p3"]


def test_refusals_are_one_line(run_dir, tmp_path, capsys):
    photos, out = _photos(tmp_path / "in", shapes=((24, 24),)), tmp_path / "pairs"
    assert _translate(run_dir, photos, out, "--crop", "full") == 0
    capsys.readouterr()
    # another model file, another --crop, a foreign non-empty folder, the input folder
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    for extra, dest, pattern in ((["--last"], out, "model_sha256"), (["--crop", "aligned"], out, "mode"),
                                 ([], foreign, "has no manifest.jsonl"), ([], photos, "is the input")):
        assert _translate(run_dir, photos, dest, "--crop", "full", *extra) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and pattern in err, err
    dup = _photos(tmp_path / "dup", shapes=((24, 24),))
    Image.fromarray(np.zeros((24, 24, 3), np.uint8)).save(dup / "p0.jpg")
    assert _translate(run_dir, dup, tmp_path / "new", "--crop", "full") == 2
    assert "share the name 'p0'" in capsys.readouterr().err and not (tmp_path / "new").exists()


def test_all_bad_images_fail_with_one_line(run_dir, tmp_path, capsys):
    photos = tmp_path / "in"
    photos.mkdir()
    (photos / "a.png").write_bytes(b"junk")
    (photos / "b.jpg").write_bytes(b"")
    assert _translate(run_dir, photos, tmp_path / "pairs", "--crop", "full") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: no pairs made: all 2 photos"), err


def test_aligned_and_both_with_a_fixed_detector(run_dir, tmp_path):
    img, face = synthetic_face(120, seed=1)
    photos = tmp_path / "in"
    photos.mkdir()
    Image.fromarray(img).save(photos / "face.png")
    Image.fromarray(img[:, ::-1]).save(photos / "noface.png")

    rep = translate_folder(run_dir, photos, tmp_path / "pairs", crop="both", detector=FacesOnlyOn([face], img),
                           quiet=True, sheet=4)
    assert rep.made == 3 and rep.problems == [(str(photos / "noface.png"), "no face found")]
    out = tmp_path / "pairs"
    assert sorted(p.name for p in (out / "aligned" / "style").iterdir()) == ["face.png"]
    assert sorted(p.name for p in (out / "full" / "photo").iterdir()) == ["face.png", "noface.png"]
    rec = next(r for r in _manifest(out) if r["crop"] == "aligned")
    assert rec["face_box"] == [round(float(v), 2) for v in face.box]
    again = translate_folder(run_dir, photos, out, crop="both", detector=FacesOnlyOn([face], img), quiet=True)
    assert again.made == 0 and again.already_done == 3


def test_aligned_on_real_photos(run_dir, tmp_path, capsys):
    scut = shared_data("faces/scut")
    pytest.importorskip("dlib")
    code = main(["translate", "--model", str(run_dir), "--in", str(scut), "--out", str(tmp_path / "p"),
                 "--limit", "2", "--quiet"])
    assert code == 0, capsys.readouterr().err
    photos = sorted((tmp_path / "p" / "photo").iterdir())
    assert photos and all(Image.open(f).size == (SIZE, SIZE) for f in photos)
    assert all(r["face_box"] is not None for r in _manifest(tmp_path / "p"))
    assert not [f for f in os.listdir(tmp_path / "p" / "style") if f.startswith(".")]  # no temp files left
    assert (tmp_path / "p" / "sheet.png").is_file()
