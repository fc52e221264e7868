"""toonforge distill with several teachers: pairs per teacher, one multi-style student, resumable."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper
from PIL import Image

from toonforge.cli.main import main
from toonforge.models.factory import load_model

pytestmark = pytest.mark.usefixtures("small_model_cpu")


def _teacher(tmp_path, name: str, gain: float):
    """An imported ONNX style (any size, [-1, 1]) multiplying the photo by ``gain``."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, "H", "W"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3, "H", "W"])
    graph = helper.make_graph([helper.make_node("Mul", ["x", "k"], ["y"])], "t", [x], [y],
                              [helper.make_tensor("k", TensorProto.FLOAT, [], [gain])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(tmp_path / f"{name}.onnx"))
    assert main(["import", "onnx", str(tmp_path / f"{name}.onnx"), "-o", str(tmp_path / name),
                 "--no-aligned", "--resolution", "32", "--quiet"]) == 0
    return tmp_path / name


def test_two_teachers_train_one_student_and_resume(tmp_path, capsys):
    teachers = [_teacher(tmp_path, "neg", -0.8), _teacher(tmp_path, "pos", 0.8)]
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    for i in range(6):
        Image.fromarray(rng.integers(0, 255, (3, 4, 3), dtype=np.uint8)).resize((40, 32), Image.BILINEAR).save(
            photos / f"p{i}.png")
    work = tmp_path / "work"
    args = ["distill", *map(str, teachers), "--photos", str(photos), "-o", str(tmp_path / "student"), "--tier",
            "tiny", "--size", "32", "--crop", "full", "--detector", "none", "--steps", "30", "--batch-size", "4",
            "--lambda-perceptual", "0", "--lambda-gan", "0", "--lr", "6e-3", "--heldout", "0.3",
            "--checkpoint-every", "15", "--work", str(work), "--quiet"]
    assert main([*args, "--max-minutes", "0"]) == 0  # stops at the first checkpoint
    assert json.loads((work / "distill.json").read_text())["teacher_digest"].keys() == {"neg", "pos"}
    for name in ("neg", "pos"):
        assert sorted((work / "pairs" / name).rglob("*.png")) and sorted((work / "train" / "targets" / name).iterdir())
    capsys.readouterr()
    assert main(args) == 0
    capsys.readouterr()
    from toonforge.styles.registry import load_style

    student = load_style(tmp_path / "student")
    assert [e.name for e in student.config.styles] == ["neg", "pos"] and not (work / "staging" / "student").exists()
    gen = next((work / "runs").glob("*/generator.safetensors"))
    net, meta, _ = load_model(gen, expect="translator-multi")
    assert net.styles == ["neg", "pos"] and meta.info["step"] == 30 and len(list((work / "runs").iterdir())) == 1
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        neg, pos = net(x, net.one_hot("neg", 1)), net(x, net.one_hot("pos", 1))
    # each style follows its own teacher: closer to -0.8x resp. +0.8x than the other
    assert (neg + 0.8 * x).abs().mean() < (neg - 0.8 * x).abs().mean()
    assert (pos - 0.8 * x).abs().mean() < (pos + 0.8 * x).abs().mean()


def test_two_teachers_with_one_name_are_refused(tmp_path, capsys):
    t = _teacher(tmp_path, "neg", -0.8)
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(photos / "a.png")
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(photos / "b.png")
    code = main(["distill", str(t), str(t), "--photos", str(photos), "-o", str(tmp_path / "s"), "--detector", "none",
                 "--crop", "full", "--work", str(tmp_path / "w"), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err[-1].startswith("error: ") and "more than once" in err[-1]
