"""toonforge distill at toy scale: an imported ONNX teacher, pairs, a resumable student run, ONNX export,
the held-out evaluation and the card; the student ends closer to its teacher than it started."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from PIL import Image

from toonforge.cli.main import main
from toonforge.pipelines.stylizer import Stylizer
from toonforge.styles.style import Style

pytestmark = pytest.mark.usefixtures("small_model_cpu")


def _teacher(tmp_path):
    """An outside graph (NCHW, any size, [-1, 1]): channels rotated and damped, imported as a style."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, "H", "W"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3, "H", "W"])
    nodes = [helper.make_node("Gather", ["x", "idx"], ["g"], axis=1), helper.make_node("Mul", ["g", "k"], ["y"])]
    inits = [helper.make_tensor("idx", TensorProto.INT64, [3], [1, 2, 0]),
             helper.make_tensor("k", TensorProto.FLOAT, [], [0.7])]
    model = helper.make_model(helper.make_graph(nodes, "t", [x], [y], inits),
                              opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(tmp_path / "teacher.onnx"))
    assert main(["import", "onnx", str(tmp_path / "teacher.onnx"), "-o", str(tmp_path / "teacher"),
                 "--no-aligned", "--resolution", "32", "--quiet"]) == 0
    return tmp_path / "teacher"


def _photos(folder, n=7):
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        small = rng.integers(0, 255, (3, 4, 3), dtype=np.uint8)
        Image.fromarray(small).resize((40, 32), Image.BILINEAR).save(folder / f"p{i}.png")
    return folder


def _gap(style, teacher, photos):
    """Mean absolute difference (0-255) between a style's and the teacher's whole-image outputs."""
    a, b = Stylizer(style, backend="torch", detector=None), Stylizer(teacher, detector=None)
    return float(np.mean([np.abs(a(p).image.astype(float) - b(p).image).mean() for p in photos]))


def test_distill_end_to_end(tmp_path, capsys):
    from toonforge.models.factory import create_model
    from toonforge.styles.style import NetSpec, StyleConfig, save_style
    from toonforge.training.checkpoint import seed_all

    teacher = _teacher(tmp_path)
    raw = json.loads((teacher / "config.json").read_text())  # post-processing the student must keep
    (teacher / "config.json").write_text(json.dumps({**raw, "keep_colours": 0.4, "keep_colours_lift": 3.0,
                                                     "keep_colours_chroma": 0.5, "clean_skin": 5}))
    photos = _photos(tmp_path / "photos")
    args = ["distill", str(teacher), "--photos", str(photos), "-o", str(tmp_path / "student"), "--tier", "tiny",
            "--size", "32", "--crop", "full", "--detector", "none", "--steps", "30", "--batch-size", "4",
            "--lambda-perceptual", "0", "--lambda-gan", "0", "--lr", "6e-3", "--heldout", "0.3",
            "--eval-size", "32", "--checkpoint-every", "15", "--work", str(tmp_path / "work"), "--quiet"]
    # A stop at the first checkpoint, then the same command continues.
    assert main([*args[:-1], "--max-minutes", "0", "--quiet"]) == 0
    assert not (tmp_path / "student").exists()
    assert main(args) == 0
    student = Style.load(tmp_path / "student")
    assert (tmp_path / "student" / "head.onnx").is_file() and student.spec("head").config["tier"] == "tiny"
    c = student.config
    assert (c.keep_colours, c.keep_colours_lift, c.keep_colours_chroma, c.clean_skin) == (0.4, 3.0, 0.5, 5)
    split = json.loads((tmp_path / "work" / "split.json").read_text())
    held = [photos / f"{s}.png" for s in split["heldout"]]
    assert held and not set(split["heldout"]) & set(split["train"])
    card = (tmp_path / "student" / "card.md").read_text()
    assert "## Student vs teacher" in card and "FD-MNv2 to the teacher's outputs" in card and "x |" in card

    seed_all(0)  # the student's initial weights, as the loop drew them
    untrained = save_style(tmp_path / "untrained", StyleConfig(
        name="untrained", head=NetSpec("translator", {"tier": "tiny"}, 32), full_resolution=512),
        {"head": create_model("translator", tier="tiny")}, "# untrained\n")
    held_rgb = [np.asarray(Image.open(p).convert("RGB")) for p in held]
    before, after = _gap(Style.load(untrained), teacher, held_rgb), _gap(student, teacher, held_rgb)
    print("gap to the teacher before/after", before, after)
    assert after < 0.7 * before, (before, after)

    # The finished style is never replaced; a work folder of other settings is refused.
    assert main(args) == 2
    assert "already exists" in capsys.readouterr().err
    other = [a if a != "tiny" else "small" for a in args]
    other[other.index(str(tmp_path / "student"))] = str(tmp_path / "student2")
    assert main(other) == 2
    assert "tier" in capsys.readouterr().err


def test_a_stage2_generator_file_is_wrapped_as_the_teacher(tmp_path):
    from toonforge.models.factory import create_model
    from toonforge.models.generator_file import save_generator_file
    from toonforge.training.distill import _teacher_style

    gen = save_generator_file(tmp_path / "run" / "generator.safetensors", create_model("translator", tier="tiny"),
                              {"task": "dctnet", "size": 64, "step": 7})
    folder = _teacher_style(str(tmp_path / "run"), tmp_path / "work")
    style = Style.load(folder)
    assert style.spec("head").resolution == 64 and style.spec("head").model == "translator"
    assert _teacher_style(str(gen), tmp_path / "work") != folder  # named by the file, not the run folder
    assert _teacher_style("cartoon", tmp_path / "work") == "cartoon"
