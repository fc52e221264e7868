"""Latent editing: a learned direction recovers a known hyperplane with its sign, editing along it flips
the label, fusion averages, yaw labels flip with a mirror, label files, and ``toonforge edit``."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from toonforge.cli.main import main
from toonforge.errors import InputError
from toonforge.models.stylegan2 import Generator, save_generator
from toonforge.stylegan.editing import (
    Direction,
    classifier_labels,
    edit,
    fit_direction,
    fuse,
    load_direction,
    read_labels,
    save_direction,
    yaw_labels,
)

TINY = {"style_dim": 16, "n_mlp": 2, "channel_max": 8}
pytestmark = pytest.mark.usefixtures("small_model_cpu")


def _synthetic(shape, n=300, seed=0, offset=0.5):
    g = torch.Generator().manual_seed(seed)
    normal = torch.randn(shape, generator=g)
    normal /= normal.norm()
    x = torch.randn(n, *shape, generator=g) * 1.5 + 0.3
    labels = ((x.reshape(n, -1) @ normal.reshape(-1)) + offset > 0).long()
    return x, labels, normal


@pytest.mark.parametrize("shape", [(16,), (4, 16)])
def test_direction_recovers_known_normal_and_edit_flips(shape):
    x, y, normal = _synthetic(shape)
    d = fit_direction(x, y)
    assert d.vector.shape == shape
    assert abs(float(d.vector.norm()) - 1) < 1e-5
    assert float((d.vector * normal).sum()) > 0.9  # right direction and right sign
    assert d.accuracy > 0.95
    zeros = x[y == 0][:10]
    assert (d.predict(zeros) == 0).all()
    step = float(-d.decision(zeros).min()) + 1.0
    moved = edit(zeros, d, step)
    assert (d.predict(moved) == 1).all()
    torch.testing.assert_close(d.decision(moved) - d.decision(zeros), torch.full((10,), step))  # step = distance
    flipped = fit_direction(x, 1 - y)
    assert float((flipped.vector * normal).sum()) < -0.9


def test_edit_shapes_and_layers():
    ws = torch.zeros(2, 4, 3)
    d = Direction(torch.tensor([1.0, 0, 0]))
    out = edit(ws, d, 2.0, layers=[0, 1])
    assert out[:, :2, 0].eq(2).all() and out[:, 2:].eq(0).all()
    assert edit(torch.zeros(2, 3), d, 1.0)[:, 0].eq(1).all()
    with pytest.raises(InputError, match="W\\+"):
        edit(torch.zeros(2, 3), Direction(torch.ones(4, 3) / 12 ** 0.5), 1.0)
    with pytest.raises(InputError):
        edit(torch.zeros(2, 4, 5), d, 1.0)


def test_fit_direction_rejects_bad_labels():
    x = torch.randn(10, 4)
    with pytest.raises(InputError, match="both classes"):
        fit_direction(x, np.ones(10))
    with pytest.raises(InputError, match="0 or 1"):
        fit_direction(x, np.arange(10))
    with pytest.raises(InputError):
        fit_direction(x, np.ones(9))


def test_fuse_identity_and_weights():
    a = torch.randn(6, 16)
    torch.testing.assert_close(fuse([a, a, a]), a)
    b = torch.randn(6, 16)
    torch.testing.assert_close(fuse([a, b], [2.0, 2.0]), (a + b) / 2)
    torch.testing.assert_close(fuse([a, b], [3.0, 1.0]), 0.75 * a + 0.25 * b)
    per_layer = torch.tensor([[1.0] * 3 + [0.0] * 3, [0.0] * 3 + [1.0] * 3])
    mixed = fuse([a, b], per_layer)
    torch.testing.assert_close(mixed[:3], a[:3])
    torch.testing.assert_close(mixed[3:], b[3:])
    with pytest.raises(InputError):
        fuse([a, b], [1.0, -1.0])
    with pytest.raises(InputError):
        fuse([a, b], [0.0, 0.0])


def test_yaw_labels_flip_with_mirror():
    rng = np.random.default_rng(0)
    faces = []
    for _ in range(6):
        shift = rng.uniform(-12, 12)
        faces.append(np.array([[80, 90], [120, 90], [100 + shift, 110], [85, 130], [115, 130]], np.float64))
    mirrored = []
    for lm in faces:
        m = lm.copy()
        m[:, 0] = 200 - m[:, 0]
        mirrored.append(m[[1, 0, 2, 4, 3]])  # keep the left eye the one with the smaller x
    s, sm = yaw_labels(faces), yaw_labels(mirrored)
    np.testing.assert_allclose(sm, -s)
    assert np.sign(yaw_labels([faces[0]])[0]) == np.sign(faces[0][2, 0] - 100)
    binary = yaw_labels(faces, binary=True)
    assert set(binary) == {0.0, 1.0} and binary.sum() == 3
    lm68 = np.zeros((68, 2))
    lm68[36:42], lm68[42:48], lm68[30] = [80, 90], [120, 90], [110, 110]
    assert yaw_labels([lm68])[0] == pytest.approx(0.25)


def test_label_file_and_direction_files(tmp_path):
    (tmp_path / "l.csv").write_text("name,label\na,1\nb,0\n\n# note\nc,1\n")
    assert read_labels(tmp_path / "l.csv") == {"a": 1, "b": 0, "c": 1}
    (tmp_path / "bad.csv").write_text("a,1\nb,maybe\n")
    with pytest.raises(InputError, match="line 2"):
        read_labels(tmp_path / "bad.csv")
    d = Direction(torch.tensor([0.6, 0.8]), bias=0.5, accuracy=0.9)
    back = load_direction(save_direction(tmp_path / "d.npy", d))
    torch.testing.assert_close(back.vector, d.vector)
    assert back.bias == 0.5 and back.accuracy == pytest.approx(0.9)


def test_classifier_labels():
    torch.manual_seed(0)
    G = Generator(8, **TINY).eval()
    ws = G.to_wplus(G.mapping(G.sample_z(5, seed=0)))
    labels = classifier_labels(G, ws, lambda im: im.mean(dim=(1, 2, 3)), threshold=-1e9, batch=2)
    assert labels.tolist() == [1] * 5


# ----- toonforge edit -----


def _run(args, capsys):
    code = main([str(a) for a in args])
    _, err = capsys.readouterr()
    return code, err


def test_edit_cli_learn_move_and_fuse(tmp_path, capsys):
    torch.manual_seed(0)
    G = Generator(8, **TINY).eval()
    gen = save_generator(tmp_path / "g.safetensors", G)
    x, y, normal = _synthetic((G.num_ws, G.style_dim), n=80, seed=1, offset=0.0)
    np.save(tmp_path / "latents.npy", x.numpy())
    names = [f"f{i}" for i in range(80)]
    (tmp_path / "latents.json").write_text(json.dumps({"items": [{"name": n} for n in names]}))
    (tmp_path / "labels.csv").write_text("".join(f"{n},{int(v)}\n" for n, v in zip(names, y)))
    lat = tmp_path / "latents.npy"
    code, err = _run(["edit", gen, "--latents", lat, "--learn-direction", "--labels", tmp_path / "labels.csv",
                      "-o", tmp_path / "dir.npy"], capsys)
    assert code == 0, err
    d = load_direction(tmp_path / "dir.npy")
    assert float((d.vector * normal).sum()) > 0.5
    code, err = _run(["edit", gen, "--latents", lat, "--direction", tmp_path / "dir.npy", "--step", "3",
                      "-o", tmp_path / "moved", "--quiet"], capsys)
    assert code == 0, err
    moved = np.load(tmp_path / "moved" / "latents.npy")
    np.testing.assert_allclose(moved - x.numpy(), 3 * d.vector.numpy()[None].repeat(80, 0), atol=1e-5)
    assert (tmp_path / "moved" / "f0.png").is_file()
    code, err = _run(["edit", gen, "--latents", lat, "--fuse", "-o", tmp_path / "fused", "--quiet"], capsys)
    assert code == 0, err
    np.testing.assert_allclose(np.load(tmp_path / "fused" / "fused.npy")[0], x.numpy().mean(0), atol=1e-5)
    code, err = _run(["edit", gen, "--latents", lat, "--fuse", "--weights", "1,2", "-o", tmp_path / "f2"], capsys)
    assert code == 2 and "--weights" in err and err.count("\n") == 1


def test_edit_cli_errors(tmp_path, capsys):
    torch.manual_seed(0)
    gen = save_generator(tmp_path / "g.safetensors", Generator(8, **TINY))
    np.save(tmp_path / "wrong.npy", np.zeros((2, 3, 5), np.float32))
    code, err = _run(["edit", gen, "--latents", tmp_path / "wrong.npy", "--fuse", "-o", tmp_path / "o"], capsys)
    assert code == 2 and "this generator needs" in err and err.count("\n") == 1
    code, err = _run(["edit", tmp_path / "none.safetensors", "--latents", tmp_path / "wrong.npy", "--fuse",
                      "-o", tmp_path / "o"], capsys)
    assert code == 2 and "not found" in err
    np.save(tmp_path / "ok.npy", np.zeros((2, 4, 16), np.float32))
    code, err = _run(["edit", gen, "--latents", tmp_path / "ok.npy", "--learn-direction", "-o", tmp_path / "d.npy"],
                     capsys)
    assert code == 2 and "--labels" in err


def test_pose_scores_with_a_stub_detector():
    from conftest import FixedDetector, synthetic_face
    from toonforge.stylegan.editing import pose_scores

    torch.manual_seed(0)
    G = Generator(8, **TINY).eval()
    ws = G.to_wplus(G.mapping(G.sample_z(3, seed=0)))
    _, face = synthetic_face(8)
    scores, found = pose_scores(G, ws, FixedDetector([face]))
    assert found.all() and np.allclose(scores, 0.0, atol=1e-5)
    scores, found = pose_scores(G, ws, FixedDetector([]))
    assert not found.any() and np.isnan(scores).all()
