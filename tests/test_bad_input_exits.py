"""Bad input exits 2 with one ``error:`` line (issue 26's probe): broken style configs and cards,
impossible learning rates, outputs under files or in /proc, FIFOs, symlink loops, newlines in names."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from toonforge.cli.main import main


def _run(args, capsys) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def _one_line_error(code: int, err: str, match: str) -> None:
    assert code == 2 and err.startswith("error:") and err.count("\n") == 1 and match in err, (code, err)


@pytest.mark.parametrize("edit,match", [
    (lambda c: c["head"]["config"].update(tier="huge"), "unknown tier 'huge'"),
    (lambda c: c["head"]["config"].update(in_channels=1_000_000_000), "in_channels = 1000000000 is out of range"),
    (lambda c: c.update(value_range=5), "value_range must be"),
    (lambda c: c.update(value_range=[1, -1]), "value_range must be"),
    (lambda c: c.update(extra=[1, 2]), "extra must be an object"),
    (lambda c: c["head"].update(resolution="1e999"), "invalid"),
], ids=["tier", "in_channels", "value_range", "value_range_order", "extra", "resolution"])
def test_a_broken_style_config_is_a_bad_input(tiny_style: Path, tmp_path: Path, capsys, edit, match) -> None:
    cfg = json.loads((tiny_style / "config.json").read_text())
    edit(cfg)
    text = json.dumps(cfg).replace('"1e999"', "1e999")  # JSON's infinity, as a hand edit would write it
    (tiny_style / "config.json").write_text(text)
    code, _, err = _run(["export", "--style", tiny_style, "-o", tmp_path / "x.onnx"], capsys)
    _one_line_error(code, err, match)
    assert not (tmp_path / "x.onnx").exists()


def test_a_card_that_is_not_utf8_and_a_listing_with_one_broken_style(tiny_style: Path, tmp_path: Path, capsys,
                                                                      monkeypatch) -> None:
    root = tmp_path / "styles"
    root.mkdir()
    good = shutil.copytree(tiny_style, root / "good")
    bad = shutil.copytree(tiny_style, root / "bad")
    (bad / "card.md").write_bytes(b"\xff\xfe not text")
    code, _, err = _run(["export", "--style", bad, "-o", tmp_path / "x.onnx"], capsys)
    _one_line_error(code, err, "is not UTF-8")
    worse = shutil.copytree(tiny_style, root / "worse")
    (worse / "config.json").write_text((worse / "config.json").read_text().replace('"resolution": 64',
                                                                                   '"resolution": 1e999'))
    monkeypatch.setenv("TOONFORGE_STYLES", str(root))
    code, out, err = _run(["styles"], capsys)
    assert code == 0 and err == ""
    rows = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert "(broken:" in rows["bad"] and "(broken:" in rows["worse"] and "(broken" not in rows["good"]
    assert "classic" in rows and good.is_dir()


@pytest.mark.parametrize("command", ["train-translator", "train-dctnet", "train-stylegan", "train-encoder"])
@pytest.mark.parametrize("lr", ["-1", "nan", "0", "inf"])
def test_a_learning_rate_must_be_a_positive_number(tmp_path: Path, capsys, command, lr) -> None:
    paths = {"train-translator": ["--inputs", tmp_path, "--targets", tmp_path],
             "train-dctnet": ["--photos", tmp_path, "--styles", tmp_path],
             "train-stylegan": ["--data", tmp_path], "train-encoder": [tmp_path / "g.safetensors", "-o",
                                                                      tmp_path / "e.safetensors"]}[command]
    with pytest.raises(SystemExit) as info:
        main([command, *map(str, paths), "--lr", lr])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "--lr" in err and "above 0" in err and err.count("\n") == 1


def test_outputs_that_cannot_be_written_are_bad_inputs(tiny_style: Path, tmp_path: Path, capsys) -> None:
    (tmp_path / "plain").write_text("a file")
    for command in (["export", "--style", tiny_style, "-o"], ["blend", tmp_path / "a", tmp_path / "b",
                                                               "--weight", "0.5", "-o"]):
        code, _, err = _run([*command, tmp_path / "plain" / "x.safetensors"], capsys)
        _one_line_error(code, err, "plain is a file, not a folder")
    if sys.platform.startswith("linux") and os.path.isdir("/proc/self"):
        code, _, err = _run(["export", "--style", tiny_style, "-o", "/proc/toonforge-x.onnx"], capsys)
        _one_line_error(code, err, "cannot write /proc/toonforge-x.onnx")


def test_inputs_that_are_not_files_are_named_for_what_they_are(tiny_style: Path, tmp_path: Path, capsys) -> None:
    fifo, loop, odd = tmp_path / "fifo.png", tmp_path / "loop.png", tmp_path / "new\nline.png"
    os.mkfifo(fifo)
    loop.symlink_to(loop)
    odd.write_bytes(b"not a manifest")
    base = ["-o", tmp_path / "out", "--style", tiny_style, "--detector", "none"]
    for src, match in ((fifo, "a FIFO (named pipe), not a file"), (loop, "a symlink loop")):
        code, _, err = _run(["stylize", src, *base], capsys)
        _one_line_error(code, err, match)
    code, _, err = _run(["unpack-run", odd, "--into", tmp_path / "runs"], capsys)  # a newline stays escaped
    _one_line_error(code, err, "new\\nline.png")


def test_outputs_are_in_a_writable_format_decided_before_any_work(tiny_style: Path, tmp_path: Path, capsys) -> None:
    from PIL import Image

    from toonforge.pipelines.batch import plan_jobs

    photos = tmp_path / "photos"
    photos.mkdir()
    for ext in ("gif", "tif", "jpg"):
        Image.new("RGB", (8, 8), (200, 100, 50)).save(photos / f"a_{ext}.{ext}")
    jobs = plan_jobs([photos], tmp_path / "out")
    assert sorted(j.dst.name for j in jobs) == ["a_gif.png", "a_jpg.jpg", "a_tif.png"]
    base = ["--style", tiny_style, "--detector", "none"]
    for args, match in ((["stylize", photos, "-o", tmp_path / "o", "--format", "gif"], "--format takes one of png"),
                        (["stylize", photos / "a_jpg.jpg", "-o", tmp_path / "x.tiff"], "cannot write .tiff images")):
        code, _, err = _run([*args, *base], capsys)
        _one_line_error(code, err, match)
        assert "gif" not in err.split("one of", 1)[1]
    assert not (tmp_path / "o").exists() and not (tmp_path / "x.tiff").exists()


def test_refused_pickles_are_explained_without_torchs_advice(tmp_path: Path, capsys) -> None:
    import pickle
    import warnings

    import torch

    from toonforge.errors import CheckpointError
    from toonforge.io.checkpoints import load_state_dict_file
    from toonforge.training.checkpoint import load_checkpoint

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    plain, zipped = tmp_path / "plain.pt", tmp_path / "zipped.pt"
    plain.write_bytes(pickle.dumps({"w": Evil()}, protocol=4))
    torch.save({"w": Evil()}, zipped)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint")
    for path, what in ((plain, "unsafe: a plain pickle"), (zipped, "unsafe: it pickles posix.system"),
                       (garbage, "not a torch checkpoint")):
        for load in (load_state_dict_file, load_checkpoint):
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # torch's warnings stay off the terminal
                with pytest.raises(CheckpointError) as info:
                    load(path)
            text = str(info.value)
            assert what in text and "weights_only" not in text and "\n" not in text, text
    (tmp_path / "photos").mkdir()
    from PIL import Image

    Image.new("RGB", (8, 8)).save(tmp_path / "photos" / "a.png")
    code, _, err = _run(["invert", zipped, tmp_path / "photos", "-o", tmp_path / "inv"], capsys)
    _one_line_error(code, err, "it pickles posix.system")
    assert "--allow-pickle" not in err and "not a torch checkpoint" not in err


@pytest.mark.parametrize("flag,value", [("--threads", "-3"), ("--threads", "0"), ("--max-pixels", "0")])
def test_counts_must_be_positive(tmp_path: Path, capsys, flag, value) -> None:
    with pytest.raises(SystemExit) as info:
        main(["stylize", str(tmp_path / "a.png"), "-o", str(tmp_path / "o"), flag, value])
    err = capsys.readouterr().err
    assert info.value.code == 2 and flag in err and "at least 1" in err and err.count("\n") == 1


def test_ugatit_names_the_rule_it_applies() -> None:
    from toonforge.errors import InputError
    from toonforge.training.ugatit_task import UGATITTrainConfig

    with pytest.raises(InputError, match="at least 3 layers, got 2"):
        UGATITTrainConfig(photos="p", styles="s", size=32, d_global_layers=2).validate()
    with pytest.raises(InputError, match="7-layer discriminator needs size >= 96 .got 64"):
        UGATITTrainConfig(photos="p", styles="s", size=64, d_global_layers=7).validate()


def test_an_output_named_like_another_kind_of_file_is_not_made_a_folder(tiny_style: Path, tmp_path: Path,
                                                                        capsys) -> None:
    from PIL import Image

    Image.new("RGB", (8, 8)).save(tmp_path / "a.png")
    code, _, err = _run(["stylize", tmp_path / "a.png", "-o", tmp_path / "out1.txt", "--style", tiny_style], capsys)
    _one_line_error(code, err, "named like a .txt file")
    assert not (tmp_path / "out1.txt").exists()
