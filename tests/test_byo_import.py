"""toonforge import: AnimeGANv2 state dicts (as the PyTorch port saves them) and outside ONNX graphs
become styles the pipeline runs; parity between engines; bad files give one error line."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper

from toonforge.cli.main import main
from toonforge.models.factory import create_model
from toonforge.pipelines.stylizer import Stylizer
from toonforge.styles.style import Style

pytestmark = pytest.mark.usefixtures("small_model_cpu")

# The published layout of the face-paint checkpoints: a few keys with their shapes, and the totals.
PUBLISHED = {"block_a.0.1.weight": (32, 3, 7, 7), "block_a.1.2.bias": (64,), "block_b.0.1.weight": (128, 64, 3, 3),
             "block_c.1.layers.0.1.weight": (256, 128, 1, 1), "block_c.1.layers.1.1.weight": (256, 1, 3, 3),
             "block_c.1.layers.1.1.bias": (256,), "block_c.1.layers.2.weight": (256, 256, 1, 1),
             "block_c.4.layers.3.weight": (256,), "block_c.5.1.weight": (128, 256, 3, 3),
             "block_e.2.1.weight": (32, 64, 7, 7), "out_layer.0.weight": (3, 32, 1, 1)}


def _err(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err and "Traceback" not in err, err
    return err


@pytest.fixture(scope="module")
def animegan_pt(tmp_path_factory):
    """A seeded random generator saved the way the port's checkpoints are: torch.save(state_dict)."""
    torch.manual_seed(0)
    net = create_model("animeganv2")
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    path = tmp_path_factory.mktemp("ag") / "face_paint_512_v2.pt"
    torch.save(net.state_dict(), path)
    return path


def test_animegan_layout_matches_the_published_checkpoints():
    sd = create_model("animeganv2").state_dict()
    assert len(sd) == 77 and sum(v.numel() for v in sd.values()) == 2_143_552
    for k, shape in PUBLISHED.items():
        assert tuple(sd[k].shape) == shape, k


def test_animegan_import_runs_in_both_engines_and_modes(tmp_path, animegan_pt, capsys):
    outs = {}
    for mode in ("align-corners", "half-pixel"):
        folder = tmp_path / mode
        assert main(["import", "animeganv2", str(animegan_pt), "-o", str(folder), "--upsample", mode,
                     "--source", "https://example.org/face_paint_512_v2.pt", "--quiet"]) == 0
        style = Style.load(folder)
        assert style.spec("head").resolution == 512 and (folder / "head.onnx").is_file()
        card = (folder / "card.md").read_text()
        assert "https://example.org/face_paint_512_v2.pt" in card and "yours to check" in card
        rgb = np.random.default_rng(1).integers(0, 255, (60, 72, 3), dtype=np.uint8)
        onnx_st = Stylizer(style, backend="onnx", detector=None)
        outs[mode] = onnx_st(rgb).image
        assert outs[mode].shape == rgb.shape
        if mode == "align-corners":  # the same picture from PyTorch; face crops through the same graph
            torch_img = Stylizer(style, backend="torch", detector=None)(rgb).image
            assert np.abs(torch_img.astype(int) - outs[mode]).max() <= 1
            assert onnx_st.stylize_crops([rgb[:56, :56]])[0].shape == (56, 56, 3)
    assert np.abs(outs["align-corners"].astype(int) - outs["half-pixel"]).mean() > 0.5  # the modes differ

    # Bad files: a missing key, a wrong shape, something that is not a state dict.
    sd = torch.load(animegan_pt, weights_only=True)
    del sd["out_layer.0.weight"]
    torch.save(sd, tmp_path / "missing.pt")
    assert main(["import", "animeganv2", str(tmp_path / "missing.pt"), "-o", str(tmp_path / "x")]) == 2
    assert "missing keys (e.g. out_layer.0.weight)" in _err(capsys)
    sd = torch.load(animegan_pt, weights_only=True)
    sd["block_a.0.1.weight"] = torch.zeros(16, 3, 7, 7)
    torch.save(sd, tmp_path / "shape.pt")
    assert main(["import", "animeganv2", str(tmp_path / "shape.pt"), "-o", str(tmp_path / "x")]) == 2
    assert "wrong shapes" in _err(capsys)
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    assert main(["import", "animeganv2", str(tmp_path / "junk.pt"), "-o", str(tmp_path / "x")]) == 2
    _err(capsys)
    assert not (tmp_path / "x").exists()
    assert main(["import", "animeganv2", str(animegan_pt), "-o", str(tmp_path / "half-pixel")]) == 2
    assert "--overwrite" in _err(capsys)


def _graph(path, *, layout="NHWC", size=64, inputs=1, channels=3, out_rank=4):
    """An outside graph: 255 - x, then the channels rotated (c -> (c + 1) % 3), in NHWC 0..255."""
    dims = ["N", size, size, channels] if layout == "NHWC" else ["N", channels, "H", "W"]
    axis = 3 if layout == "NHWC" else 1
    ins = [helper.make_tensor_value_info(f"in{i}", TensorProto.FLOAT, dims) for i in range(inputs)]
    out = helper.make_tensor_value_info("out", TensorProto.FLOAT, (["N", size, size, 3] if out_rank == 4 else ["N", 3]))
    nodes = [helper.make_node("Sub", ["c255", "in0"], ["neg"]),
             helper.make_node("Gather", ["neg", "idx"], ["out"], axis=axis)]
    inits = [helper.make_tensor("c255", TensorProto.FLOAT, [], [255.0]),
             helper.make_tensor("idx", TensorProto.INT64, [3], [1, 2, 0])]
    model = helper.make_model(helper.make_graph(nodes, "g", ins, [out], inits),
                              opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def test_onnx_graph_style_feeds_the_graph_its_way(tmp_path, capsys):
    graph = _graph(tmp_path / "photo2x.onnx")
    folder = tmp_path / "p2x"
    assert main(["import", "onnx", str(graph), "-o", str(folder), "--layout", "NHWC", "--range", "0,255",
                 "--quiet"]) == 0
    cfg = json.loads((folder / "config.json").read_text())
    assert cfg["kind"] == "onnx" and cfg["head"]["resolution"] == 64
    assert cfg["head"]["config"] | {"file": None} == {"file": None, "layout": "NHWC", "channels": "rgb",
                                                      "input_range": [0.0, 255.0], "output_range": [0.0, 255.0],
                                                      "fixed_size": True, "stride": 1, "aligned": True}
    style = Style.load(folder)
    st = Stylizer(style, detector=None)
    assert st.backend == "onnx" and st.head_resolution == 64
    crop = np.random.default_rng(2).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    want = (255 - crop.astype(int))[..., [1, 2, 0]]
    assert np.abs(st.stylize_crops([crop])[0].astype(int) - want).max() <= 1
    big = np.repeat(np.repeat(crop, 2, 0), 2, 1)  # another size: resized to 64 and back
    assert st.stylize_crops([big])[0].shape == (128, 128, 3)
    frame = np.random.default_rng(3).integers(0, 255, (50, 70, 3), dtype=np.uint8)
    assert np.array_equal(st(frame).image, frame)  # an aligned-face graph leaves the frame (no faces here)
    with pytest.raises(Exception, match="ONNX graph"):
        Stylizer(style, backend="torch", detector=None)

    # A graph of any size that also does whole frames (NCHW, BGR).
    dyn = _graph(tmp_path / "dyn.onnx", layout="NCHW")
    folder2 = tmp_path / "dyn"
    assert main(["import", "onnx", str(dyn), "-o", str(folder2), "--range", "0,255", "--channels", "bgr",
                 "--no-aligned", "--stride", "2", "--quiet"]) == 0
    out = Stylizer(Style.load(folder2), detector=None)(frame).image
    want = (255 - frame.astype(int))[..., ::-1][..., [1, 2, 0]][..., ::-1]  # BGR in, rotated, back to RGB
    assert np.abs(out.astype(int) - want).max() <= 1


@pytest.mark.parametrize("kw, flags, message", [
    ({"inputs": 2}, [], "2 inputs"),
    ({"channels": 4}, ["--layout", "NHWC"], "4 channels"),
    ({}, ["--layout", "NCHW"], "channels"),  # an NHWC graph declared NCHW
    ({"out_rank": 2}, ["--layout", "NHWC"], "not 4-D"),
])
def test_bad_graphs_are_refused(tmp_path, capsys, kw, flags, message):
    graph = _graph(tmp_path / "bad.onnx", **kw)
    assert main(["import", "onnx", str(graph), "-o", str(tmp_path / "s"), *flags]) == 2
    assert message in _err(capsys)
    assert not (tmp_path / "s").exists()
    (tmp_path / "junk.onnx").write_bytes(b"junk")
    assert main(["import", "onnx", str(tmp_path / "junk.onnx"), "-o", str(tmp_path / "s")]) == 2
    _err(capsys)
