"""The shared-encoder face swap: swapping decoders swaps the identity, the model file round-trips, the
video path keeps the frame count and changes only the face, and bad inputs give one error line."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from conftest import FixedDetector, synthetic_face
from test_video import make_clip
from toonforge.cli.main import main
from toonforge.io.video import read_frames
from toonforge.models.faceswap_file import load_faceswap
from toonforge.pipelines.faceswap import FaceSwapper, match_colour
from toonforge.pipelines.video import stylize_video
from toonforge.training.faceswap_task import EXPORT, FaceSwapConfig, FaceSwapTask
from toonforge.training.loop import LoopConfig, train

pytestmark = pytest.mark.usefixtures("small_model_cpu")
SIZE = 32


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """A tiny face swap trained for a few steps on two synthetic 'people' (different smooth patterns)."""
    import torch

    threads, onednn = torch.get_num_threads(), torch.backends.mkldnn.enabled
    torch.set_num_threads(1)  # as small_model_cpu does (a module fixture runs before it)
    torch.backends.mkldnn.enabled = False
    a, b = synthetic_face(SIZE, seed=1)[0], synthetic_face(SIZE, seed=2)[0]
    cfg = FaceSwapConfig(size=SIZE, width=8, code_dim=16, lr=3e-3, items=64, warp=1.0)
    task = FaceSwapTask([a], [b], ("ann", "bo"), cfg)
    loop = LoopConfig(total_steps=30, batch_size=8, progress=False, tensorboard=False, log_every=30,
                      checkpoint_every=30, seed=0)
    try:
        result = train(task, loop, runs_root=tmp_path_factory.mktemp("fs"))
    finally:
        torch.set_num_threads(threads)
        torch.backends.mkldnn.enabled = onednn
    return result.run_dir / EXPORT, a, b


def _dist(x, y):
    return float(np.abs(x.astype(np.float32) - y.astype(np.float32)).mean())


def test_swapping_decoders_swaps_the_identity(model):
    path, a, b = model
    net, info = load_faceswap(path)
    assert net.identities == ["ann", "bo"] and info["step"] == 30
    as_b = FaceSwapper(path, "bo", detector=None, colour_match=False).swap_crops([a])[0]
    as_a = FaceSwapper(path, "ann", detector=None, colour_match=False).swap_crops([a])[0]
    assert as_b.shape == a.shape and as_b.dtype == np.uint8
    assert _dist(as_b, b) < _dist(as_b, a)  # A's face through B's decoder looks like B
    assert _dist(as_a, a) < _dist(as_a, b)
    with pytest.raises(Exception, match="unknown identity"):
        FaceSwapper(path, "cy", detector=None)


def test_match_colour_moves_the_statistics():
    rng = np.random.default_rng(0)
    drawn = rng.integers(0, 100, (16, 16, 3), dtype=np.uint8)
    original = rng.integers(100, 255, (16, 16, 3), dtype=np.uint8)
    out = match_colour(drawn, original, np.ones((16, 16), np.float32))
    assert np.allclose(out.reshape(-1, 3).mean(0), original.reshape(-1, 3).mean(0), atol=1.5)


def test_faceswap_video_keeps_frames_and_background(model, tmp_path):
    path, _, _ = model
    src = tmp_path / "in.mp4"
    make_clip(src, w=96, h=64, n=6, fps=Fraction(10), audio=None)
    _, face = synthetic_face(200)
    face = face.scaled(64 / 200)  # a face in the middle of the 64 px high frame
    swapper = FaceSwapper(path, "bo", detector=FixedDetector([face]))
    report = stylize_video(src, tmp_path / "out.mp4", swapper, batch_size=4)
    assert report.frames == 6 and report.frames_with_faces == 6
    before, after = list(read_frames(src)), list(read_frames(tmp_path / "out.mp4"))
    assert len(after) == 6 and after[0].shape == before[0].shape
    x0, y0, x1, y1 = face.box.astype(int)
    inside = _dist(after[0][y0:y1, x0:x1], before[0][y0:y1, x0:x1])
    corner = _dist(after[0][:8, :8], before[0][:8, :8])
    assert inside > 2 * corner + 1  # the face changed, the background stayed (up to the codec)


def test_faceswap_errors(model, tmp_path, capsys):
    path, _, _ = model
    src = tmp_path / "in.mp4"
    make_clip(src, n=3, audio=None)
    noface = tmp_path / "noface.png"
    from PIL import Image

    Image.fromarray(np.full((64, 64, 3), 128, np.uint8)).save(noface)
    cases = [
        ["faceswap-video", str(tmp_path / "none.safetensors"), str(src), "-o", str(tmp_path / "o.mp4")],
        ["faceswap-video", str(path), str(tmp_path / "none.mp4"), "-o", str(tmp_path / "o.mp4")],
        ["faceswap-video", str(path), str(src), "-o", str(src), "--overwrite"],
        ["faceswap-video", str(path), str(src), "--to", "zed", "-o", str(tmp_path / "o.mp4")],
        ["train-faceswap", "--a", str(noface), "--b", str(noface), "--steps", "1", "--runs", str(tmp_path / "r")],
        ["train-faceswap", "--a", str(noface), "--b", str(noface), "--names", "x,x", "--runs", str(tmp_path / "r")],
    ]
    capsys.readouterr()
    for argv in cases:
        assert main(argv) == 2, argv
        err = [ln for ln in capsys.readouterr().err.strip().splitlines() if not ln.startswith("notice:")]
        assert len(err) == 1 and err[0].startswith("error: "), (argv, err)
    assert not (tmp_path / "o.mp4").exists() and not (tmp_path / "r").exists()
