"""The web app without a browser: request handlers, the Stylizer cache, the CLI entry, the page."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import FixedDetector, synthetic_face
from toonforge.app.handlers import AppHandlers
from toonforge.cli.main import build_parser, main
from toonforge.errors import InputError
from toonforge.pipelines.stylizer_cache import StylizerCache

STYLE = "tiny-test"


@pytest.fixture
def registry(tiny_style, monkeypatch) -> str:
    """The tiny test style, visible to the registry by name (as a user style would be)."""
    monkeypatch.setenv("TOONFORGE_STYLES", str(tiny_style.parent))
    return STYLE


@pytest.fixture
def face_image():
    return synthetic_face(96, seed=1)


def make_handlers(tmp_path: Path, faces=(), **kwargs) -> AppHandlers:
    cache = StylizerCache(detector=FixedDetector(list(faces)))
    return AppHandlers(cache, work_dir=tmp_path / "work", **kwargs)


def test_importing_handlers_and_cli_does_not_import_gradio():
    code = ("import sys, toonforge.app.handlers, toonforge.cli.main as m; m.build_parser(); "
            "print('gradio' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"


def test_full_image_shape_dtype_and_strength_zero(registry, tmp_path, face_image):
    img, face = face_image
    h = make_handlers(tmp_path, [face])
    out = h.stylize_image(img, registry, 1.0, False)
    assert out.image.shape == img.shape and out.image.dtype == np.uint8
    assert out.notices == []
    same = h.stylize_image(img, registry, 0.0, False)
    assert np.array_equal(same.image, img)


def test_file_path_input_and_grey_array(registry, tmp_path, face_image):
    img, face = face_image
    path = tmp_path / "portrait.png"
    Image.fromarray(img).save(path)
    h = make_handlers(tmp_path, [face])
    assert h.stylize_image(str(path), registry, 0.5).image.shape == (96, 96, 3)
    assert h.stylize_image(img[:, :, 0], registry, 0.5).image.shape == (96, 96, 3)


def test_head_only_and_no_face(registry, tmp_path, face_image):
    img, face = face_image
    head = make_handlers(tmp_path, [face]).stylize_image(img, registry, 1.0, True)
    assert head.image.shape == (64, 64, 3)  # the tiny style's head resolution
    none = make_handlers(tmp_path, [])
    with pytest.raises(InputError, match="no face found"):
        none.stylize_image(img, registry, 1.0, True)
    full = none.stylize_image(img, registry, 1.0, False)
    assert full.image.shape == img.shape and any("no face found" in n for n in full.notices)


@pytest.mark.parametrize("content,match", [
    (b"hello, I am text", "not an image"),
    (b"", "empty"),
    (None, "truncated"),
])
def test_bad_files_give_one_line_input_errors(registry, tmp_path, face_image, content, match):
    bad = tmp_path / "uploads" / "photo.jpg"
    bad.parent.mkdir()
    if content is None:
        Image.fromarray(face_image[0]).save(bad, quality=90)
        content = bad.read_bytes()[: bad.stat().st_size // 2]
    bad.write_bytes(content)
    with pytest.raises(InputError) as exc:
        make_handlers(tmp_path).stylize_image(str(bad), registry)
    text = str(exc.value)
    assert match in text.lower() and "photo.jpg" in text
    assert "\n" not in text and str(bad.parent) not in text  # the upload's name, not its temp path


def test_missing_image_huge_image_and_bad_strength(registry, tmp_path, face_image):
    h = make_handlers(tmp_path, max_pixels=1000)
    path = tmp_path / "big.png"
    Image.fromarray(face_image[0]).save(path)
    with pytest.raises(InputError, match="above the limit of 1,000") as exc:
        h.stylize_image(str(path), registry)
    assert "--max-pixels" not in str(exc.value)
    with pytest.raises(InputError, match="above the limit"):
        h.stylize_image(face_image[0], registry)
    with pytest.raises(InputError, match="no image"):
        h.stylize_image(None, registry)
    with pytest.raises(InputError, match="strength"):
        make_handlers(tmp_path).stylize_image(face_image[0], registry, 1.5)


def test_only_registry_names_are_accepted(registry, tiny_style, tmp_path, face_image):
    h = make_handlers(tmp_path)
    assert registry in h.style_names() and "classic" in h.style_names()
    for style in (str(tiny_style), "nope", None):  # a request may not load an arbitrary folder
        with pytest.raises(InputError, match="unknown style"):
            h.stylize_image(face_image[0], style)


def test_cache_reuses_stylizers_across_threads(registry):
    made = []

    def slow_factory(style, **kwargs):
        time.sleep(0.05)  # widen the race window
        made.append(style)
        return object()

    cache = StylizerCache(detector=None, factory=slow_factory, max_items=1)
    got = []
    threads = [threading.Thread(target=lambda: got.append(cache.get(registry))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert made == [registry] and cache.builds == 1 and len({id(g) for g in got}) == 1
    cache.get("filter")  # evicts the least recently used
    assert len(cache) == 1 and cache.get(registry) is not got[0] and cache.builds == 3


def test_handlers_share_one_real_stylizer(registry, tmp_path, face_image):
    h = make_handlers(tmp_path, [face_image[1]])
    h.stylize_image(face_image[0], registry)
    first = h.cache.get(registry, h.backend)
    h.stylize_image(face_image[0], registry, 0.3, True)
    assert h.cache.get(registry, h.backend) is first and h.cache.builds == 1


def test_video_handler(registry, tmp_path):
    pytest.importorskip("toonforge.pipelines.video", reason="toonforge.pipelines.video has not landed yet")
    import av

    src = tmp_path / "clip.mp4"
    frames = [synthetic_face(64, seed=i)[0] for i in range(6)]
    with av.open(str(src), "w") as out:
        stream = out.add_stream("mpeg4", rate=12)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        for rgb in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    calls = []
    h = AppHandlers(StylizerCache(detector=None), work_dir=tmp_path / "work")
    result = h.stylize_video(str(src), registry, 0.8, False, progress=lambda done, total: calls.append(done))
    assert result.path.is_file() and result.path.parent.parent == tmp_path / "work"
    with av.open(str(result.path)) as check:
        decoded = [f.to_ndarray(format="rgb24") for f in check.decode(video=0)]
    assert len(decoded) == len(frames) and decoded[0].shape == (64, 64, 3)
    assert calls and max(calls) == len(frames)
    with pytest.raises(InputError, match="no video"):
        h.stylize_video(None, registry)
    with pytest.raises(InputError, match="no such file"):
        h.stylize_video(str(tmp_path / "gone.mp4"), registry)


def test_cli_parser_defaults_and_help(capsys):
    args = build_parser().parse_args(["app"])
    assert (args.host, args.port, args.share, args.concurrency) == ("127.0.0.1", 7860, False, 2)
    assert args.backend == "auto" and args.max_upload_mb == 20.0 and args.style_default == "classic"
    with pytest.raises(SystemExit) as exc:
        main(["app", "--help"])
    assert exc.value.code == 0 and "--host" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        main(["app", "--port", "70000"])
    assert exc.value.code == 2 and "port must be" in capsys.readouterr().err


def test_cli_without_gradio_names_the_extra(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "gradio", None)  # makes `import gradio` fail
    assert main(["app"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error:") and 'pip install "toonforge[app]"' in err


def test_cli_launch_arguments(registry, monkeypatch, capsys):
    pytest.importorskip("gradio")
    import toonforge.app.ui as ui

    seen = {}
    monkeypatch.setattr(ui, "launch_demo", lambda demo, **kw: seen.update(kw, demo=demo))
    assert main(["app", "--style-default", registry, "--detector", "none", "--examples", "."]) == 0
    assert seen["host"] == "127.0.0.1" and seen["share"] is False and seen["port"] == 7860
    assert "warning" not in capsys.readouterr().err
    assert main(["app", "--share", "--port", "8000", "--style-default", registry, "--detector", "none"]) == 0
    assert seen["share"] is True and seen["port"] == 8000 and "public" in capsys.readouterr().err
    assert main(["app", "--style-default", "nope"]) == 2 and "unknown style" in capsys.readouterr().err

    def busy(demo, **kw):
        raise OSError("Cannot find empty port in range: 8000-8000. You can specify a different port")

    monkeypatch.setattr(ui, "launch_demo", busy)
    assert main(["app", "--port", "8000", "--style-default", registry, "--detector", "none"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot listen on 127.0.0.1:8000" in err


def test_build_demo_without_launching(registry, tmp_path, face_image):
    gr = pytest.importorskip("gradio")
    from gradio.data_classes import FileData

    from toonforge.app.ui import build_demo

    demo = build_demo(examples=[], max_upload_mb=5, concurrency=1, handlers=make_handlers(tmp_path))
    assert isinstance(demo, gr.Blocks) and demo.toonforge_max_upload_mb == 5
    by_id = {b.elem_id: b for b in demo.blocks.values() if getattr(b, "elem_id", None)}
    assert {"input-image", "output-image", "style", "strength", "head-only", "run-image", "run-video"} <= set(by_id)
    choices = [c[1] if isinstance(c, tuple) else c for c in by_id["style"].choices]
    assert registry in choices and "classic" in choices and by_id["style"].value == "classic"
    # the style-mix slider: the shipped multi-style model's first two styles
    assert "mix" in by_id and "classic ↔ sketch" in by_id["mix"].label
    assert set(by_id["input-image"].sources) == {"upload", "webcam"}
    bad = tmp_path / "photo.jpg"
    bad.write_text("not a picture")
    # The upload is handed over undecoded, so our handler (not Gradio) reports a bad file.
    assert by_id["input-image"].preprocess(FileData(path=str(bad), orig_name="photo.jpg")) == str(bad)
    assert not Path(sys.modules["toonforge.app.ui"].__file__).with_suffix(".pyi").exists()
