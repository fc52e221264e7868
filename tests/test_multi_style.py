"""Multi-style models (issue 31): the style vector, its ONNX graph, the folder format, mixing in the
pipeline and the CLI's --mix. Tiny seeded translator-multi with perturbed style rows (untrained)."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest
import torch

from conftest import synthetic_face
from toonforge.cli.main import main
from toonforge.errors import InputError
from toonforge.export.onnx_export import check_parity
from toonforge.io.images import load_image, save_image
from toonforge.models.factory import create_model
from toonforge.models.translator.multi import StyleBatchNorm
from toonforge.pipelines.stylizer import Stylizer
from toonforge.styles.multi import blend_settings, check_mix, parse_mix
from toonforge.styles.registry import load_style
from toonforge.styles.style import Style
from toonforge.training.export_style import write_multi_style

NAMES = ["a", "b", "c"]


def tiny_multi(seed: int = 0):
    """A seeded tiny translator-multi whose three styles differ (every scale and shift row perturbed)."""
    torch.manual_seed(seed)
    net = create_model("translator-multi", styles=NAMES, tier="tiny").eval()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, StyleBatchNorm):
                m.style_weight.add_(0.5 * torch.randn_like(m.style_weight))
                m.style_bias.add_(0.5 * torch.randn_like(m.style_bias))
    return net


def single_from_row(net, i: int):
    """The plain translator that style ``i`` of ``net`` is (its scale and shift rows as BN affine)."""
    single = create_model("translator", tier=net.config["tier"]).eval()
    state = {}
    for key, value in net.state_dict().items():
        key = key.removeprefix("net.")
        if key.endswith(".style_weight") or key.endswith(".style_bias"):
            key, value = key.replace(".style_weight", ".weight").replace(".style_bias", ".bias"), value[i]
        state[key] = value
    single.load_state_dict(state)
    return single


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A written multi-style folder: a takes the shipped anime's settings (with its reshape), b and c own ones."""
    net = tiny_multi()
    out = tmp_path_factory.mktemp("multi") / "mymulti"
    settings = {"a": "anime", "b": {"keep_colours": 0.6, "keep_colours_lift": 2.0, "clean_skin": 7},
                "c": {"description": "plain"}}
    write_multi_style(net, out, settings, name="mymulti", head_resolution=64, full_resolution=128)
    return net, out


def test_condition_changes_output_and_one_hot_is_that_style(small_model_cpu):
    net = tiny_multi()
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(1)) * 2 - 1
    with torch.no_grad():
        outs = [net(x, net.one_hot(n)) for n in NAMES]
        assert min((outs[i] - outs[j]).abs().mean() for i in range(3) for j in range(i)) > 1e-2
        for i in range(3):  # exactly the plain translator made of that style's rows
            assert torch.allclose(outs[i], single_from_row(net, i)(x), atol=1e-5)
        per_row = net(x, torch.stack([net.one_hot("a"), net.one_hot("b")]))  # (N, S): one style per image
        assert torch.allclose(per_row[1], outs[1][1], atol=1e-6)


def test_half_mix_lies_between_the_two(small_model_cpu):
    net = tiny_multi()
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(2)) * 2 - 1
    with torch.no_grad():
        a, b = net(x, net.one_hot("a")), net(x, net.one_hot("b"))
        half = net(x, torch.tensor([0.5, 0.5, 0.0]))
    ab = (a - b).abs().mean()
    assert (half - a).abs().mean() < ab and (half - b).abs().mean() < ab


def test_onnx_parity_at_several_mixes(folder, small_model_cpu):
    net, out = folder
    report = check_parity(net, out / "head.onnx", sizes=((64, 64), (48, 80)))
    assert report.ok and len(report.max_abs_diff) == 2 * 5  # 3 one-hot, even, random at each size
    from toonforge.export.runtime import OnnxRunner

    x = np.random.default_rng(3).uniform(-1, 1, (2, 3, 48, 64)).astype(np.float32)
    baked, plain = OnnxRunner(out / "head.onnx", threads=1), OnnxRunner(out / "head.onnx", threads=1, bake=False)
    for mix in ([0.2, 0.5, 0.3], [0.0, 1.0, 0.0]):  # the mix baked in as a constant computes the same
        w = np.array(mix, np.float32)
        assert np.abs(baked(x, w) - plain(x, w)).max() < 1e-5
    assert len(baked._baked) == 2 and not plain._baked
    with pytest.raises(Exception, match="needs style weights"):
        baked(x)


def test_folder_round_trip(folder, small_model_cpu):
    net, out = folder
    style = Style.load(out)
    anime = load_style("anime").config
    entries = {e.name: e for e in style.config.styles}
    assert [e.name for e in style.config.styles] == NAMES
    assert entries["a"].post.reshape == anime.reshape and entries["a"].post.keep_colours == anime.keep_colours
    assert (out / "reshape-a.onnx").read_bytes() == (load_style("anime").path / "reshape.onnx").read_bytes()
    assert entries["b"].post.clean_skin == 7 and entries["c"].post.reshape is None and entries["c"].reshape_file is None
    built = style.build_net()
    assert all(torch.equal(p, q) for p, q in zip(built.state_dict().values(), net.state_dict().values()))
    img, _ = synthetic_face(96, seed=4)
    outs = {}
    for backend in ("torch", "onnx"):
        s = Stylizer(out, backend=backend, detector=None, mix={"a": 0.0, "b": 2.0})
        assert s.backend == backend and s.mix == {"a": 0.0, "b": 1.0, "c": 0.0}
        outs[backend] = s(img).image.astype(int)
    assert np.abs(outs["torch"] - outs["onnx"]).max() <= 1
    one_hot = Stylizer(out, detector=None, mix="a=1")
    assert (one_hot.reshape, one_hot.keep_colours, one_hot.keep_colours_lift) == \
        (anime.reshape, anime.keep_colours, anime.keep_colours_lift)
    with torch.no_grad():  # the pipeline's one-hot output is the style's own network
        want = single_from_row(net, 2)(torch.from_numpy(
            (img[None].transpose(0, 3, 1, 2).astype(np.float32) / 127.5 - 1.0)[:, :, :96, :96]))
    got = Stylizer(out, detector=None, mix="c=1", backend="onnx")._translate("full", [img])[0]
    ref = np.clip((want[0].numpy().transpose(1, 2, 0) + 1) * 127.5 + 0.5, 0, 255).astype(np.uint8)
    assert np.abs(got.astype(int) - ref.astype(int)).max() <= 1


def test_settings_blend_linearly_and_one_hot_exactly(folder):
    entries = Style.load(folder[1]).config.styles
    half = blend_settings(entries, check_mix({"a": 1, "b": 1}, NAMES))
    assert half.keep_colours == pytest.approx((0.2 + 0.6) / 2) and half.keep_colours_lift == pytest.approx(4.0)
    assert half.clean_skin == 3  # half of 7 px, to the nearest odd width
    assert half.reshape.eyes == pytest.approx(2.0 ** 0.5)
    assert half.reshape.eye_radius == entries[0].post.reshape.eye_radius
    one = blend_settings(entries, check_mix({"b": 1}, NAMES))
    assert (one.keep_colours, one.clean_skin, one.reshape) == (0.6, 7, None)


@pytest.mark.parametrize("mix", ["a=", "a=x", "a", "a=1,a=2", "z=1", "a=-1,b=2", "a=0,b=0", "a=nan"])
def test_bad_mixes_are_one_line_errors(folder, tmp_path, mix):
    img, _ = synthetic_face(64, seed=5)
    save_image(tmp_path / "p.png", img)
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["stylize", str(tmp_path / "p.png"), "-o", str(tmp_path / "o.png"), "--style", str(folder[1]),
                     "--mix", mix, "--detector", "none", "--quiet"])
    lines = err.getvalue().strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), lines
    assert not (tmp_path / "o.png").exists()


def test_mix_with_a_single_style_or_no_multi_model_is_one_line(tmp_path, monkeypatch):
    import toonforge.styles.registry as registry

    img, _ = synthetic_face(64, seed=5)
    save_image(tmp_path / "p.png", img)
    shipped = registry.available_styles()
    without_multi = {k: v for k, v in shipped.items() if k != "multi"}
    cases = [(["--style", "classic"], "single-style", shipped),
             ([], "toonforge distill", without_multi),  # --mix alone, no multi-style model installed
             ([], "has: classic, sketch", shipped)]  # the shipped multi has no anime: its styles are named
    for extra, words, installed in cases:
        monkeypatch.setattr(registry, "available_styles", lambda installed=installed: installed)
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = main(["stylize", str(tmp_path / "p.png"), "-o", str(tmp_path / "o.png"), "--mix", "anime=1",
                         "--detector", "none", "--quiet", *extra])
        lines = err.getvalue().strip().splitlines()
        assert code == 2 and len(lines) == 1 and words in lines[0], lines
    assert not (tmp_path / "o.png").exists()


def test_the_shipped_multi_model_is_its_styles_students_distilled(tmp_path):
    """The shipped four-style model: each one-hot mix stays close to that style's own student on a
    face, closer than to any other style's student; a 50/50 mix lies between its two styles."""
    img, face = synthetic_face(256, seed=3)
    multi = Stylizer("multi", detector=None, threads=1)
    assert [e.name for e in multi.style.config.styles] == ["classic", "sketch", "colour-sketch", "cartoon"]
    outs = {s: multi.mixed({s: 1.0})(img, faces=[face]).image.astype(np.float32) for s in ("classic", "sketch")}
    students = {s: Stylizer(s, detector=None, threads=1)(img, faces=[face]).image.astype(np.float32)
                for s in ("classic", "sketch")}
    for s, other in (("classic", "sketch"), ("sketch", "classic")):
        assert np.abs(outs[s] - students[s]).mean() < np.abs(outs[s] - students[other]).mean()
    half = multi.mixed({"classic": 0.5, "sketch": 0.5})(img, faces=[face]).image.astype(np.float32)
    gap = np.abs(outs["classic"] - outs["sketch"]).mean()
    assert np.abs(half - outs["classic"]).mean() < gap and np.abs(half - outs["sketch"]).mean() < gap


def test_listed_names_resolve_and_are_listed(folder, tmp_path, monkeypatch):
    monkeypatch.setenv("TOONFORGE_STYLES", str(folder[1].parent))
    style = load_style("b")
    assert style.path == folder[1] and style.default_mix == {"b": 1.0}
    assert load_style("anime").config.styles is None  # a folder of that name wins
    assert load_style(f"{folder[1]}@c").default_mix == {"a": 0.0, "b": 0.0, "c": 1.0}  # MODEL@STYLE picks one
    assert load_style("mymulti@a=1,b=3").default_mix == {"a": 0.25, "b": 0.75, "c": 0.0}
    for bad in ("mymulti@z", "classic@a", "mymulti@a=-1"):
        with pytest.raises(InputError):
            load_style(bad)
    s = Stylizer("b", detector=None)
    assert s.mix == {"a": 0.0, "b": 1.0, "c": 0.0} and s.clean_skin == 7
    assert s.mixed("a=1,c=1").keep_colours == pytest.approx(0.1) and s.keep_colours == 0.6
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["styles"]) == 0
    text = out.getvalue()
    assert "mymulti" in text and any(line.split()[:1] == ["c"] and "mymulti" in line for line in text.splitlines())
    img, _ = synthetic_face(64, seed=6)
    save_image(tmp_path / "p.png", img)
    assert main(["stylize", str(tmp_path / "p.png"), "-o", str(tmp_path / "o.png"), "--style", "mymulti",
                 "--mix", "a=0.5,c=0.5", "--detector", "none", "--quiet"]) == 0
    assert load_image(tmp_path / "o.png").rgb.shape == img.shape


def test_parse_mix():
    assert parse_mix(" anime = 0.7 , cartoon=0.3") == {"anime": 0.7, "cartoon": 0.3}
    assert json.dumps(check_mix({"b": 3, "a": 1}, NAMES)) == json.dumps({"a": 0.25, "b": 0.75, "c": 0.0})


def test_service_mixes_per_request_and_batches_by_mix(folder, monkeypatch):
    pytest.importorskip("prometheus_client", reason="the serve extra (prometheus-client) is not installed")
    import threading

    from conftest import FixedDetector
    from toonforge.serve.batching import BatchingRunner
    from toonforge.serve.service import ServeSettings, ServiceError, StyleService

    monkeypatch.setenv("TOONFORGE_STYLES", str(folder[1].parent))
    img, face = synthetic_face(128, seed=7)
    buf = io.BytesIO()
    from PIL import Image

    Image.fromarray(img).save(buf, format="PNG")
    service = StyleService(ServeSettings(default_style="mymulti", detector=None),
                           detector=FixedDetector([face]))
    got = load_image_bytes_rgb(service.stylize(buf.getvalue(), style="c", mix="b=1").body)
    want = Stylizer(folder[1], detector=FixedDetector([face]), mix="b=1")(img).image
    assert np.abs(got.astype(int) - want.astype(int)).max() <= 1
    with pytest.raises(ServiceError) as bad:
        service.stylize(buf.getvalue(), style="b", mix="b=-1")
    assert bad.value.status == 422
    seen = []
    batcher = BatchingRunner(lambda x, s=None: seen.append((x.shape[0], s.tolist())) or x, max_batch=4, window_s=0.3)
    x = np.zeros((1, 3, 16, 16), np.float32)
    styles = [np.array([1, 0, 0], np.float32), np.array([0, 1, 0], np.float32), np.array([1, 0, 0], np.float32)]
    threads = [threading.Thread(target=batcher, args=(x, s)) for s in styles]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sorted(seen) == [(1, [0.0, 1.0, 0.0]), (2, [1.0, 0.0, 0.0])]


def load_image_bytes_rgb(data: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def test_app_mix_slider_and_handlers(folder, tmp_path, monkeypatch):
    from conftest import FixedDetector
    from toonforge.app.handlers import AppHandlers
    from toonforge.pipelines.stylizer_cache import StylizerCache

    monkeypatch.setenv("TOONFORGE_STYLES", str(folder[1].parent))
    handlers = AppHandlers(StylizerCache(detector=FixedDetector([])), work_dir=tmp_path / "work")
    # the slider takes the first multi-style model by name: the shipped one before mymulti
    assert handlers.mix_pair() == ("multi", "classic", "sketch")
    assert {"mymulti", "a", "c"} <= set(handlers.style_names())
    img, _ = synthetic_face(64, seed=8)
    got = handlers.stylize_image(img, "mymulti", mix="a=0.5,b=0.5").image
    want = Stylizer(folder[1], detector=None, mix="a=1,b=1")(img).image
    assert np.array_equal(got, want)
    with pytest.raises(Exception, match="single-style"):
        handlers.stylize_image(img, "classic", mix="a=1")
    gr = pytest.importorskip("gradio")
    from toonforge.app.ui import build_demo

    demo = build_demo(examples=[], concurrency=1, handlers=handlers)
    by_id = {b.elem_id: b for b in demo.blocks.values() if getattr(b, "elem_id", None)}
    assert isinstance(by_id["mix"], gr.Slider) and "classic ↔ sketch" in by_id["mix"].label


def test_an_output_inside_the_multi_style_folder_is_refused(folder, tmp_path, monkeypatch):
    monkeypatch.setenv("TOONFORGE_STYLES", str(folder[1].parent))
    img, _ = synthetic_face(64, seed=9)
    save_image(tmp_path / "p.png", img)
    for style in ("b", "mymulti@b"):
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = main(["stylize", str(tmp_path / "p.png"), "-o", str(folder[1] / "x.png"), "--style", style,
                         "--detector", "none", "--quiet"])
        assert code == 2 and err.getvalue().startswith("error: ") and not (folder[1] / "x.png").exists()
