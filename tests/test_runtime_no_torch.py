"""The runtime without PyTorch: stylize (image, folder, video), styles and the face front end run in a
subprocess where importing torch fails, and their output equals the PyTorch backend's within the
parity tolerance; commands that need PyTorch say which extra to install."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import SHARED_DATA, shipped_tiny_style, synthetic_face
from test_multi_style import tiny_multi
from test_video import make_clip
from toonforge.io.images import load_image, save_image
from toonforge.pipelines.stylizer import Stylizer
from toonforge.training.export_style import write_multi_style

SRC = Path(__file__).resolve().parents[1] / "src"
PHOTO = SHARED_DATA / "faces" / "scut" / "AF1554.jpg"

# Run inside the torch-less subprocess: each command through the CLI's main(), then a report.
SCRIPT = r"""
import contextlib, io, json, sys
report = {}
try:
    import torch  # noqa: F401
    report["torch_importable"] = True
except ModuleNotFoundError:
    report["torch_importable"] = False
from toonforge.cli.main import main
for key, argv in json.loads(sys.argv[1]).items():
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()) as out:
        code = main(argv)
    report[key] = {"code": code, "err": err.getvalue(), "out": out.getvalue()}
if len(sys.argv) > 2:  # the face front end (dlib, alignment, paste-back) on a real photo, via the API
    import numpy as np
    from toonforge.io.images import load_image
    from toonforge.pipelines.stylizer import Stylizer
    s = Stylizer("classic")
    r = s(load_image(sys.argv[2]))
    np.save(sys.argv[3], r.image)
    report["photo"] = {"backend": s.backend, "faces": [[f.box.tolist(), f.landmarks.tolist(), float(f.score)]
                                                        for f in r.faces]}
print(json.dumps(report))
"""


def _blocker(folder: Path) -> Path:
    """A sitecustomize that makes torch look uninstalled (import fails, find_spec says None)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text("import sys\nsys.modules['torch'] = None\n")
    return folder


@pytest.fixture(scope="module")
def no_torch(tmp_path_factory):
    """Runs every command once in one torch-less subprocess; returns (report, paths)."""
    tmp = tmp_path_factory.mktemp("no-torch")
    style = shipped_tiny_style(tmp, "tiny-rt")
    multi = write_multi_style(tiny_multi(), tmp / "multi-rt", {"a": {}, "b": {"keep_colours": 0.5}, "c": {}},
                              head_resolution=64, full_resolution=128)
    img, _ = synthetic_face(150, seed=3)
    photos = tmp / "photos"
    photos.mkdir()
    save_image(photos / "a.png", img)
    save_image(photos / "b.png", img[::-1].copy())
    clip = tmp / "clip.mp4"
    make_clip(clip, w=64, h=48, n=6)
    out = tmp / "out"
    cmds = {
        "image": ["stylize", str(photos / "a.png"), "-o", str(out / "a.png"), "--style", str(style),
                  "--detector", "none", "--quiet"],
        "folder": ["stylize", str(photos), "-o", str(out / "folder"), "--style", str(style), "--detector", "none",
                   "--quiet"],
        "video": ["video", str(clip), "-o", str(out / "clip.mp4"), "--style", str(style), "--detector", "none",
                  "--quiet"],
        "styles": ["styles"],
        "torch_backend": ["stylize", str(photos / "a.png"), "-o", str(out / "t.png"), "--style", str(style),
                          "--detector", "none", "--backend", "torch"],
        "export": ["export", "--style", str(style), "-o", str(out / "x.onnx")],
        "multi": ["stylize", str(photos / "a.png"), "-o", str(out / "m.png"), "--style", str(multi),
                  "--mix", "a=0.3,b=0.7", "--detector", "none", "--quiet"],
        "multi_video": ["video", str(clip), "-o", str(out / "m.mp4"), "--style", str(multi), "--mix", "c=1",
                        "--detector", "none", "--quiet"],
    }
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(_blocker(tmp / "block")), str(SRC)])}
    photo = [str(PHOTO), str(tmp / "photo.npy")] if PHOTO.is_file() else []
    proc = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(cmds), *photo], capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    paths = {"style": style, "photos": photos, "out": out, "photo": tmp / "photo.npy", "multi": multi}
    return json.loads(proc.stdout.strip().splitlines()[-1]), paths


def test_the_subprocess_really_has_no_torch(no_torch):
    report, _ = no_torch
    assert report["torch_importable"] is False


def test_image_and_folder_equal_the_torch_backend(no_torch, small_model_cpu):
    report, p = no_torch
    assert report["image"]["code"] == 0, report["image"]["err"]
    assert report["folder"]["code"] == 0, report["folder"]["err"]
    ref = Stylizer(p["style"], backend="torch", detector=None)
    for src, dst in [("a.png", "a.png"), ("a.png", "folder/a.png"), ("b.png", "folder/b.png")]:
        got = load_image(p["out"] / dst).rgb.astype(int)
        want = ref(load_image(p["photos"] / src)).image.astype(int)
        assert got.shape == want.shape and np.abs(got - want).max() <= 1


def test_a_multi_style_mix_runs_without_torch(no_torch, small_model_cpu):
    from toonforge.io.video import probe_video

    report, p = no_torch
    for key in ("multi", "multi_video"):
        assert report[key]["code"] == 0, report[key]["err"]
    want = Stylizer(p["multi"], backend="torch", detector=None, mix="a=0.3,b=0.7")(load_image(p["photos"] / "a.png"))
    got = load_image(p["out"] / "m.png").rgb.astype(int)
    assert np.abs(got - want.image.astype(int)).max() <= 1
    assert probe_video(p["out"] / "m.mp4").frame_count == 6


def test_video_and_styles_run_without_torch(no_torch):
    from toonforge.io.video import probe_video

    report, p = no_torch
    assert report["video"]["code"] == 0, report["video"]["err"]
    assert probe_video(p["out"] / "clip.mp4").frame_count == 6
    assert report["styles"]["code"] == 0 and "classic" in report["styles"]["out"]


@pytest.mark.parametrize("key", ["torch_backend", "export"])
def test_commands_needing_torch_name_the_extra(no_torch, key):
    report, p = no_torch
    lines = report[key]["err"].strip().splitlines()
    assert report[key]["code"] == 2 and len(lines) == 1
    assert lines[0].startswith("error: ") and "pip install 'toonforge[train]'" in lines[0]
    assert not (p["out"] / "t.png").exists()


def test_face_front_end_without_torch_equals_the_torch_backend(no_torch):
    report, p = no_torch
    if "photo" not in report:
        pytest.skip(f"needs the real photo {PHOTO} (absent on this machine)")
    from conftest import FixedDetector
    from toonforge.face.types import Face

    faces = [Face(box=np.array(b, np.float32), landmarks=np.array(lm, np.float32), score=sc)
             for b, lm, sc in report["photo"]["faces"]]
    assert report["photo"]["backend"] == "onnx" and len(faces) == 1
    got = np.load(p["photo"]).astype(int)
    # The same faces through the PyTorch backend (dlib's detection is not the part under test here).
    want = Stylizer("classic", backend="torch", detector=FixedDetector(faces))(load_image(PHOTO)).image
    assert got.shape == want.shape and np.abs(got - want.astype(int)).max() <= 1
