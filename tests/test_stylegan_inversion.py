"""Inversion by optimization: the loss falls, W+ fits at least as well as W, runs repeat exactly for a
seed, noise maps stay normalized, and ``toonforge invert`` writes loadable codes, resumes and fails
with one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from toonforge.cli.main import main
from toonforge.errors import InputError
from toonforge.losses.perceptual import PerceptualLoss
from toonforge.models.features.mobilenetv2 import MobileNetV2Features
from toonforge.models.stylegan2 import Generator, save_generator
from toonforge.stylegan import load_latents
from toonforge.stylegan.inversion import invert_optimize, noise_regularization, prepare_target

TINY = {"style_dim": 16, "n_mlp": 2, "channel_max": 8}
pytestmark = pytest.mark.usefixtures("small_model_cpu")
FAST = {"w_perceptual": 0.0, "n_mean": 256}


@pytest.fixture(scope="module")
def G():
    torch.manual_seed(0)
    g = Generator(32, **TINY).eval()
    with torch.no_grad():
        for conv in [g.conv1, *g.convs]:
            conv.noise.weight.fill_(0.05)
    return g


@pytest.fixture(scope="module")
def target(G):
    """An image G itself draws from a known w (clipped to [-1, 1], as every target is)."""
    with torch.no_grad():
        w = G.mapping(G.sample_z(1, seed=5))
        return G.synthesis(w, noise=G.make_noise(3)).clamp(-1, 1)


def test_loss_falls_and_wplus_fits_at_least_as_well(G, target):
    results = {s: invert_optimize(G, target, space=s, steps=40, noise_reg=1e3, **FAST) for s in ("w", "w+")}
    for space, r in results.items():
        assert len(r.loss_history) == 41
        assert r.loss_history[-1] < 0.5 * r.loss_history[0], space
        assert r.ws.shape == (1, G.num_ws, G.style_dim)
        assert r.image.shape == (1, 3, 32, 32)
    w_ws = results["w"].ws
    assert torch.equal(w_ws, w_ws[:, :1].expand_as(w_ws))  # a W result is one code repeated
    assert results["w+"].final_loss <= results["w"].final_loss * 1.02
    # the reconstruction is what G draws from the returned code and noise
    again = G.synthesis(results["w+"].ws, noise=results["w+"].noise)
    torch.testing.assert_close(again, results["w+"].image)


def test_deterministic_for_a_seed_and_noise_normalized(G, target):
    a = invert_optimize(G, target, steps=6, seed=1, **FAST)
    b = invert_optimize(G, target, steps=6, seed=1, **FAST)
    c = invert_optimize(G, target, steps=6, seed=2, **FAST)
    assert torch.equal(a.ws, b.ws) and a.loss_history == b.loss_history
    assert all(torch.equal(x, y) for x, y in zip(a.noise, b.noise))
    assert not torch.equal(a.ws, c.ws)
    assert len(a.noise) == G.num_layers
    for n in a.noise:
        assert abs(float(n.mean())) < 1e-5 and abs(float(n.std()) - 1) < 1e-4


def test_perceptual_loss_init_code_and_resizing(G, target):
    perc = PerceptualLoss(MobileNetV2Features(layers=(3, 6), pretrained=False))
    big = torch.nn.functional.interpolate(target, size=48, mode="bilinear", align_corners=False)
    r = invert_optimize(G, big, steps=8, perceptual=perc, n_mean=256, optimize_noise=False)
    assert r.loss_history[-1] < r.loss_history[0]
    start = torch.randn(1, G.num_ws, G.style_dim)
    r0 = invert_optimize(G, target[0], steps=0, init=start, **FAST)
    assert torch.equal(r0.ws, start) and len(r0.loss_history) == 1
    assert not any(p.requires_grad is False for p in G.parameters())  # G's flags restored


def test_bad_arguments_and_regularizer():
    with pytest.raises(InputError, match="space"):
        invert_optimize(Generator(8, **TINY), torch.zeros(1, 3, 8, 8), space="z")
    with pytest.raises(InputError, match="one RGB image"):
        prepare_target(torch.zeros(2, 3, 8, 8), 8)
    white = [torch.randn(1, 1, 64, 64, generator=torch.Generator().manual_seed(0))]
    smooth = [torch.nn.functional.interpolate(torch.randn(1, 1, 8, 8), size=64, mode="bilinear")]
    assert float(noise_regularization(smooth)) > 100 * float(noise_regularization(white))


# ----- toonforge invert -----


@pytest.fixture(scope="module")
def gen_file(G, tmp_path_factory):
    return save_generator(tmp_path_factory.mktemp("g") / "g.safetensors", G)


def _photos(d, target, n=2):
    d.mkdir()
    base = ((target[0].permute(1, 2, 0).numpy() + 1) * 127.5).astype(np.uint8)
    for i in range(n):
        Image.fromarray(np.roll(base, 3 * i, axis=1)).resize((40, 40)).save(d / f"p{i}.png")
    return d


def _run(args, capsys):
    code = main([str(a) for a in args])
    _, err = capsys.readouterr()
    return code, err


def test_invert_cli_writes_resumes_and_skips_bad(gen_file, target, tmp_path, capsys):
    photos = _photos(tmp_path / "photos", target)
    out = tmp_path / "inv"
    base = ["invert", gen_file, "-o", out, "--no-align", "--steps", "4", "--w-perceptual", "0", "--quiet"]
    code, err = _run(base + [photos / "p0.png"], capsys)
    assert code == 0, err
    assert load_latents(out / "latents.npy").shape == (1, 8, 16)
    stamp = (out / "p0.png").stat().st_mtime_ns
    (photos / "bad.png").write_bytes(b"not an image")
    code, err = _run(base + [photos, "--save-noise"], capsys)
    assert code == 2 and "bad.png" in err and err.count("\n") == 2
    meta = json.loads((out / "latents.json").read_text())
    assert [it["name"] for it in meta["items"]] == ["p0", "p1"]
    assert (out / "p0.png").stat().st_mtime_ns == stamp  # done photo skipped
    codes = load_latents(out / "latents.npy")
    assert codes.shape == (2, 8, 16) and (out / "p1.png").is_file() and (out / "noise" / "p1.safetensors").is_file()
    code, err = _run(base[:-1] + ["--space", "w", photos / "p0.png"], capsys)
    assert code == 2 and "other settings" in err


def test_invert_cli_errors(gen_file, tmp_path, capsys):
    photo = tmp_path / "x.png"
    Image.new("RGB", (16, 16)).save(photo)
    code, err = _run(["invert", tmp_path / "missing.safetensors", photo, "-o", tmp_path / "o"], capsys)
    assert code == 2 and err.startswith("error:") and err.count("\n") == 1
    torch.save({"g_ema": {"foo": torch.zeros(1)}}, tmp_path / "other.pt")
    code, err = _run(["invert", tmp_path / "other.pt", photo, "-o", tmp_path / "o"], capsys)
    assert code == 2 and "not a StyleGAN2 generator" in err and err.count("\n") == 1
    (tmp_path / "broken.png").write_bytes(b"\x89PNG broken")
    code, err = _run(["invert", gen_file, tmp_path / "broken.png", "-o", tmp_path / "o", "--no-align"], capsys)
    assert code == 2 and "broken.png" in err and err.count("\n") == 1


def test_invert_cli_aligns_faces_and_feeds_sampling(gen_file, tmp_path, capsys):
    from conftest import FixedDetector, synthetic_face
    from toonforge.face.detector import _REGISTRY, register_detector
    from toonforge.stylegan import sample_dataset

    img, face = synthetic_face(96)
    if "test-fixed" not in _REGISTRY:
        register_detector("test-fixed")(lambda: FixedDetector([face]))
        register_detector("test-empty")(lambda: FixedDetector([]))
    Image.fromarray(img).save(tmp_path / "face.png")
    Image.fromarray(img).save(tmp_path / "face2.png")
    out = tmp_path / "inv"
    base = ["invert", gen_file, "-o", out, "--steps", "2", "--w-perceptual", "0", "--quiet"]
    code, err = _run(base + ["--detector", "test-fixed", tmp_path / "face.png"], capsys)
    assert code == 0, err
    assert Image.open(out / "aligned" / "face.png").size == (32, 32)
    code, err = _run(base + ["--detector", "test-empty", tmp_path / "face2.png"], capsys)
    assert code == 2 and "no face found" in err
    report = sample_dataset(gen_file, tmp_path / "toon", latents=out / "latents.npy", progress=False)
    assert report.written == ["latent0000000"]


def test_invert_never_writes_over_its_photos(gen_file, target, tmp_path, capsys):
    # The data-loss defect of issue 26: `invert PHOTOS -o PHOTOS` replaced the PNG photos with renders.
    photos = _photos(tmp_path / "photos", target)
    before = {p.name: p.read_bytes() for p in photos.iterdir()}
    for out in (photos, photos / "inv"):
        code, err = _run(["invert", gen_file, photos, "-o", out, "--no-align", "--steps", "1",
                          "--w-perceptual", "0", "--quiet"], capsys)
        assert code == 2 and err.startswith("error:") and err.count("\n") == 1, err
    code, err = _run(["invert", gen_file, photos / "p0.png", "-o", photos, "--no-align", "--steps", "1",
                      "--w-perceptual", "0", "--quiet"], capsys)
    assert code == 2 and "contains the input" in err
    assert {p.name: p.read_bytes() for p in photos.iterdir()} == before
