"""Choosing the engine (auto/torch/onnx), stamped ONNX exports, stale or broken files, fallbacks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import FixedDetector
from toonforge.errors import CheckpointError, InputError
from toonforge.evaluation.report import EvalReport, StyleRow
from toonforge.evaluation.runner import backend_summary
from toonforge.export.onnx_export import export_onnx, read_weights_digest
from toonforge.io.checkpoints import weights_sha256
from toonforge.models.factory import create_model
from toonforge.pipelines import backends
from toonforge.pipelines.stylizer import Stylizer
from toonforge.styles.registry import load_style


@pytest.fixture
def onnx_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TOONFORGE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "onnx"


def _other_net(seed: int = 7):
    torch.manual_seed(seed)
    return create_model("translator", tier="tiny")


def _run(style, face_image, backend):
    img, face = face_image
    s = Stylizer(style, backend=backend, detector=FixedDetector([face]))
    return s, s(img).image.astype(int)


def test_pick_backend(tiny_style, monkeypatch):
    style = load_style(tiny_style)
    assert backends.pick_backend("auto", style, "cpu") == "onnx"
    assert backends.pick_backend("auto", style, "cuda") == "torch"
    assert backends.pick_backend("auto", load_style("filter"), "cpu") == "torch"
    assert backends.pick_backend("torch", style, "cpu") == "torch"
    assert backends.pick_backend("onnx", style, "cuda") == "onnx"
    with pytest.raises(InputError, match="unknown backend 'tvm'"):
        backends.pick_backend("tvm", style, "cpu")
    monkeypatch.setattr(backends, "has_module", lambda name: name != "onnxruntime")
    assert backends.pick_backend("auto", style, "cpu") == "torch"


def test_weights_digest_follows_the_tensors(tmp_path):
    a, b = _other_net(1), _other_net(1)
    assert weights_sha256(a) == weights_sha256(b)
    with torch.no_grad():
        next(iter(b.parameters())).view(-1)[0] += 1e-6
    assert weights_sha256(a) != weights_sha256(b)
    path = export_onnx(a, tmp_path / "a.onnx")
    assert read_weights_digest(path) == weights_sha256(a)
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    assert read_weights_digest(tmp_path / "junk.onnx") is None


def test_auto_is_onnx_on_cpu_and_matches_torch(tiny_style, face_image, onnx_cache):
    s, auto = _run(tiny_style, face_image, "auto")
    assert s.backend == "onnx" and not s.setup_notices
    exports = list(onnx_cache.glob("*.onnx"))
    assert len(exports) == 1 and weights_sha256(s.style.build_net())[:16] in exports[0].name
    _, ref = _run(tiny_style, face_image, "torch")
    assert np.abs(auto - ref).max() <= 1
    _, forced = _run(tiny_style, face_image, "onnx")
    assert np.array_equal(auto, forced)


def test_the_style_folders_own_current_export_is_used(tiny_style, face_image, onnx_cache):
    export_onnx(load_style(tiny_style).build_net(), tiny_style / "head.onnx")
    s, _ = _run(tiny_style, face_image, "auto")
    assert s.backend == "onnx" and not s.setup_notices
    assert not onnx_cache.exists()  # nothing exported


def test_a_stale_export_is_not_run(tiny_style, face_image, onnx_cache):
    stale = export_onnx(_other_net(), tiny_style / "head.onnx")
    before = stale.read_bytes()
    s, out = _run(tiny_style, face_image, "auto")
    assert s.backend == "onnx" and "other weights" in s.setup_notices[0]
    assert len(list(onnx_cache.glob("*.onnx"))) == 1
    _, ref = _run(tiny_style, face_image, "torch")
    assert np.abs(out - ref).max() <= 1  # the style's own weights ran, not the stale graph
    assert stale.read_bytes() == before  # the user's file is left alone


def test_an_unstamped_export_is_trusted(tiny_style, face_image, onnx_cache):
    import onnx

    path = export_onnx(load_style(tiny_style).build_net(), tiny_style / "head.onnx")
    model = onnx.load(str(path))
    del model.metadata_props[:]
    onnx.save(model, str(path))
    assert read_weights_digest(path) is None
    s, _ = _run(tiny_style, face_image, "auto")
    assert s.backend == "onnx" and not s.setup_notices and not onnx_cache.exists()


def test_a_broken_onnx_file_falls_back_under_auto_only(tiny_style, face_image, onnx_cache):
    (tiny_style / "head.onnx").write_bytes(b"\x08\x07 truncated")
    s, out = _run(tiny_style, face_image, "auto")
    assert s.backend == "torch" and "using PyTorch" in s.setup_notices[0]
    _, ref = _run(tiny_style, face_image, "torch")
    assert np.array_equal(out, ref)
    with pytest.raises(CheckpointError, match="cannot load ONNX model head.onnx"):
        Stylizer(tiny_style, backend="onnx", detector=None)


def test_a_failing_export_falls_back_under_auto_only(tiny_style, onnx_cache, monkeypatch):
    import toonforge.export.onnx_export as exporter

    def refuse(*args, **kwargs):
        raise RuntimeError("Unsupported operator aten::weird\nlong trace")

    monkeypatch.setattr(exporter, "export_onnx", refuse)
    s = Stylizer(tiny_style, detector=None)
    assert s.backend == "torch" and "aten::weird" in s.setup_notices[0]
    with pytest.raises(CheckpointError, match=r"cannot run in ONNX Runtime: Unsupported operator aten::weird$"):
        Stylizer(tiny_style, backend="onnx", detector=None)


def test_cli_default_is_auto_and_says_when_it_falls_back(tiny_style, face_image, tmp_path, onnx_cache, capsys):
    from PIL import Image

    from toonforge.cli.main import main

    img, _ = face_image
    Image.fromarray(img).save(tmp_path / "in.png")
    outs = {}
    for name, extra in (("default", []), ("onnx", ["--backend", "onnx"]), ("torch", ["--backend", "torch"])):
        out = tmp_path / f"{name}.png"
        assert main(["stylize", str(tmp_path / "in.png"), "-o", str(out), "--style", str(tiny_style),
                     "--detector", "none", "--quiet"] + extra) == 0
        outs[name] = np.asarray(Image.open(out)).astype(int)
    assert np.array_equal(outs["default"], outs["onnx"])
    assert np.abs(outs["default"] - outs["torch"]).max() <= 1
    capsys.readouterr()
    (tiny_style / "head.onnx").write_bytes(b"garbage")
    assert main(["stylize", str(tmp_path / "in.png"), "-o", str(tmp_path / "fb.png"), "--style", str(tiny_style),
                 "--detector", "none"]) == 0
    err = capsys.readouterr().err
    assert err.count("note: ONNX Runtime cannot run style 'tiny-test'") == 1
    assert main(["stylize", str(tmp_path / "in.png"), "-o", str(tmp_path / "x.png"), "--style", str(tiny_style),
                 "--detector", "none", "--backend", "onnx"]) != 0
    err = capsys.readouterr().err
    assert "cannot load ONNX model" in err and "Traceback" not in err


def test_eval_report_names_the_engine():
    rows = [StyleRow("input", kind="baseline"), StyleRow("a", backend="onnx"), StyleRow("b", backend="onnx")]
    assert backend_summary("auto", rows) == "auto: onnx"
    assert backend_summary("torch", rows) == "torch"
    rows.append(StyleRow("teacher", backend="torch"))
    assert backend_summary("auto", rows) == "auto: a onnx, b onnx, teacher torch"
    old = EvalReport("t", "", "p", None, 256, "torch", "FD-MNv2", rows=[StyleRow("a")]).to_json()
    del old["rows"][0]["backend"]  # a report.json written before rows named their engine
    assert EvalReport.from_json(old).rows[0].backend is None


@pytest.mark.parametrize("name", ["anime", "cartoon", "classic", "colour-sketch", "sketch"])
def test_shipped_exports_are_of_the_shipped_weights(name):
    style = load_style(name)
    assert read_weights_digest(style.onnx_path("head")) == weights_sha256(style.build_net("head"))
