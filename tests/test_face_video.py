"""``toonforge face-video``: frame count, smooth walks (consecutive frames closer than the ends),
side-by-side panels for several generators, and one-line errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from toonforge.cli.main import main
from toonforge.io.video import probe_video, read_frames
from toonforge.models.stylegan2 import Generator, save_generator
from toonforge.stylegan.editing import Direction, save_direction
from toonforge.stylegan.walk import direction_walk, loop_walk

TINY = {"style_dim": 16, "n_mlp": 2, "channel_max": 8}
pytestmark = pytest.mark.usefixtures("small_model_cpu")


@pytest.fixture(scope="module")
def gens(tmp_path_factory):
    d = tmp_path_factory.mktemp("walk")
    out = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        out.append(save_generator(d / f"g{seed}.safetensors", Generator(32, **TINY)))
    direction = torch.randn(16, generator=torch.Generator().manual_seed(3))
    save_direction(d / "dir.npy", Direction(direction / direction.norm()))
    return out, d / "dir.npy"


def _mean_abs(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float32) - b.astype(np.float32)).mean())


def test_direction_walk_goes_out_and_back():
    ws = torch.zeros(1, 4, 3)
    v = torch.tensor([1.0, 0.0, 0.0])
    walk = direction_walk(ws, v, 2.0, 9)
    amount = walk[:, 0, 0]
    assert walk.shape == (9, 4, 3)
    assert amount[0] == 0 and amount[-1] == 0 and amount[4] == pytest.approx(2.0)
    assert torch.all(amount[1:5] > amount[:4]) and torch.allclose(amount, amount.flip(0))
    loop = loop_walk(torch.arange(3.0).reshape(3, 1, 1).expand(3, 2, 2), 6)
    assert loop.shape == (6, 2, 2) and loop[0, 0, 0] == 0 and loop[2, 0, 0] == 1 and loop[4, 0, 0] == 2


def test_face_video_frames_smooth_and_side_by_side(gens, tmp_path):
    (g1, g2), direction = gens
    out = tmp_path / "walk.mp4"
    rc = main(["face-video", str(g1), str(g2), "--seeds", "5", "--direction", str(direction), "--step", "6",
               "--steps", "12", "--size", "32", "-o", str(out), "--quiet"])
    assert rc == 0
    info = probe_video(out)
    assert info.codec == "h264" and info.display_size == (64, 32)
    frames = list(read_frames(out))
    assert len(frames) == 12
    steps = [_mean_abs(a, b) for a, b in zip(frames, frames[1:])]
    far = _mean_abs(frames[0], frames[6])  # the start against the farthest point of the walk
    assert far > 2 and max(steps) < far
    left, right = frames[6][:, :32], frames[6][:, 32:]
    assert _mean_abs(left, right) > 2  # two different generators, one panel each


def test_face_video_loop_and_errors(gens, tmp_path, capsys):
    (g1, _), direction = gens
    codes = tmp_path / "codes.npy"
    np.save(codes, np.random.default_rng(0).standard_normal((3, 16)).astype(np.float32))
    out = tmp_path / "loop.mp4"
    assert main(["face-video", str(g1), "--latents", str(codes), "--steps", "9", "--size", "32",
                 "-o", str(out), "--quiet"]) == 0
    assert len(list(read_frames(out))) == 9
    capsys.readouterr()
    bad = [
        ["--latents", str(codes), "--steps", "9", "-o", str(out)],  # exists
        ["--latents", str(codes), "--steps", "2", "-o", str(tmp_path / "b.mp4")],  # 2 frames for 3 codes
        ["--seeds", "1", "-o", str(tmp_path / "c.mp4")],  # one code, no direction
        ["--seeds", "x", "-o", str(tmp_path / "d.mp4")],
        ["--seeds", "1", "--direction", str(direction), "--index", "4", "-o", str(tmp_path / "e.mp4")],
        ["--seeds", "1", "--direction", str(tmp_path / "none.npy"), "-o", str(tmp_path / "f.mp4")],
        ["--seeds", "1", "-o", str(tmp_path / "g.gif")],
    ]
    for extra in bad:
        assert main(["face-video", str(g1), *extra]) == 2, extra
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: "), (extra, err)
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())  # no temporary debris
