"""The CLI's lazy command table, the runtime's torch-free pieces (weights digest, strides) and
what happens where PyTorch would be needed but is missing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from toonforge.cli.main import COMMANDS, build_parser, main
from toonforge.errors import MissingDependencyError
from toonforge.export.onnx_export import export_onnx
from toonforge.io.checkpoints import weights_sha256
from toonforge.models.factory import create_model, list_models
from toonforge.models.registry import registered
from toonforge.models.strides import MODEL_STRIDES
from toonforge.pipelines.stylizer import Stylizer
from toonforge.styles.style import Style

SRC = Path(__file__).resolve().parents[1] / "src"


def test_the_command_table_agrees_with_every_module():
    parser = build_parser()  # every module imported and registered
    sub = next(a for a in parser._actions if a.dest == "command")
    registered = {a.dest: a.help for a in sub._choices_actions}
    assert registered == {name: help_line for name, (_, help_line) in COMMANDS.items()}


def test_a_module_with_two_commands_runs_either(capsys):
    for command in ("pack-run", "unpack-run"):  # both in run_transfer_cmd; the second used to clash
        with pytest.raises(SystemExit) as exc:
            main([command, "--help"])
        assert exc.value.code == 0 and f"usage: toonforge {command}" in capsys.readouterr().out


def test_help_and_styles_import_neither_torch_nor_the_training_stack():
    code = (
        "import contextlib, io, json, sys\n"
        "from toonforge.cli.main import main\n"
        "heavy = ('torch', 'onnx', 'onnxruntime', 'cv2', 'toonforge.cli.train_cmd', 'toonforge.pipelines.stylizer')\n"
        "seen = {}\n"
        "for argv in (['--help'], ['stylize', '--help'], ['styles']):\n"
        "    with contextlib.redirect_stdout(io.StringIO()):\n"
        "        try:\n"
        "            main(argv)\n"
        "        except SystemExit:\n"
        "            pass\n"
        "    seen[argv[0]] = sorted(m for m in heavy if m in sys.modules)\n"
        "import toonforge.forge.runner, toonforge.forge.shell_steps, toonforge.cli.forge_cmd\n"
        "seen['forge modules'] = sorted(m for m in heavy + ('toonforge.training',) if m in sys.modules)\n"
        "print(json.dumps(seen))\n")
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout)
    assert seen["--help"] == []
    for command in ("stylize", "styles"):  # (stylize's options need the image module, so OpenCV)
        assert set(seen[command]) <= {"cv2"}, command
    assert set(seen["forge modules"]) <= {"cv2"}  # the production line imports its stack when it runs


def test_strides_table_matches_the_model_classes():
    for name in list_models():
        stride = getattr(registered()[name], "stride", None)
        if isinstance(stride, int):
            assert MODEL_STRIDES.get(name) == stride, name
    assert set(MODEL_STRIDES) <= set(list_models())


def test_numpy_weights_digest_equals_the_modules(tiny_style):
    style = Style.load(tiny_style)
    net = style.build_net()
    assert any(t.ndim == 0 for t in net.state_dict().values())  # a 0-d BatchNorm counter is covered
    assert style.weights_digest() == weights_sha256(net)
    with torch.no_grad():
        next(net.parameters()).add_(1e-3)
    assert style.weights_digest() != weights_sha256(net)


def _no_torch(monkeypatch):
    import toonforge.extras as extras
    from toonforge.pipelines import backends

    monkeypatch.setattr(extras, "has_module", lambda name: name != "torch")
    monkeypatch.setattr(backends, "has_module", lambda name: name != "torch")


def test_a_stale_graph_without_torch_names_the_extra(tiny_style, monkeypatch, tmp_path):
    monkeypatch.setenv("TOONFORGE_CACHE", str(tmp_path / "cache"))  # no export an earlier test cached
    torch.manual_seed(5)
    export_onnx(create_model("translator", tier="tiny"), tiny_style / "head.onnx")  # other weights
    _no_torch(monkeypatch)
    for backend in ("onnx", "auto"):  # auto cannot fall back to a PyTorch that is not there
        with pytest.raises(MissingDependencyError, match=r"exporting one needs torch.*toonforge\[train\]"):
            Stylizer(tiny_style, backend=backend, detector=None)
    monkeypatch.undo()  # with torch: the export is made once and cached by digest ...
    monkeypatch.setenv("TOONFORGE_CACHE", str(tmp_path / "cache"))
    Stylizer(tiny_style, backend="onnx", detector=None)
    _no_torch(monkeypatch)
    s = Stylizer(tiny_style, backend="onnx", detector=None)  # ... and then runs without torch
    assert s.backend == "onnx" and "exported from other weights" in s.setup_notices[0]


def test_the_shipped_graph_runs_when_torch_is_missing(tiny_style, monkeypatch):
    export_onnx(Style.load(tiny_style).build_net(), tiny_style / "head.onnx")
    _no_torch(monkeypatch)
    s = Stylizer(tiny_style, detector=None)
    assert s.backend == "onnx" and not s.setup_notices
    assert s(np.full((40, 50, 3), 128, np.uint8)).image.shape == (40, 50, 3)


def test_a_missing_extra_is_one_error_line(monkeypatch, capsys):
    import toonforge.cli.styles_cmd as styles_cmd

    def needs_ray(args):
        raise ModuleNotFoundError("No module named 'ray'", name="ray")

    monkeypatch.setattr(styles_cmd, "run", needs_ray)
    assert main(["styles"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: this needs ray, which is not installed: pip install 'toonforge[ray]'"]
