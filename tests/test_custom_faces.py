"""Customised face generation: per-class latent generators against a classifier, template styles by
layer, and the sampling options that expose them (``sample --latent-generator/--class``, ``--template``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import shared_data
from toonforge.cli.main import main
from toonforge.models.stylegan2 import Generator, load_generator, save_generator
from toonforge.stylegan.latent_classes import class_codes, load_bundle
from toonforge.stylegan.latents import RenderSettings, _codes
from toonforge.training.latent_generator import class_score, diversity_loss, prior_loss

TINY = {"style_dim": 16, "n_mlp": 2, "channel_max": 8}
pytestmark = pytest.mark.usefixtures("small_model_cpu")


@pytest.fixture(scope="module")
def gen_file(tmp_path_factory):
    torch.manual_seed(4)
    return save_generator(tmp_path_factory.mktemp("g") / "g.safetensors", Generator(32, **TINY))


def _labelled(folder, n=12):
    """Synthetic labelled photos: 'warm' images lean red, 'cool' ones blue (noise on top)."""
    rng = np.random.default_rng(0)
    folder.mkdir()
    rows = ["name,class"]
    for i in range(n):
        cls = "warm" if i % 2 else "cool"
        base = np.array([200, 60, 40] if cls == "warm" else [40, 60, 200], np.float32)
        img = np.clip(base + rng.normal(0, 30, (32, 32, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(img).save(folder / f"im{i:02d}.png")
        rows.append(f"im{i:02d},{cls}")
    labels = folder.parent / "labels.csv"
    labels.write_text("\n".join(rows) + "\n")
    return labels


def test_latent_generator_beats_random_samples(gen_file, tmp_path, capsys):
    labels = _labelled(tmp_path / "images")
    out = tmp_path / "lg.safetensors"
    rc = main(["train-latent-generator", str(gen_file), "--images", str(tmp_path / "images"), "--labels",
               str(labels), "-o", str(out), "--classifier-steps", "30", "--steps", "20", "--batch-size", "8",
               "--val-fraction", "0", "--noise-dim", "8", "--quiet"])
    assert rc == 0
    bundle = load_bundle(out)
    assert bundle.classes == ["cool", "warm"]
    G = load_generator(gen_file)
    gains = []
    for k, name in enumerate(bundle.classes):
        ws = class_codes(G, bundle, name, 32, seed=100)
        assert ws.shape == (32, G.num_ws, 16)
        net = bundle.generators[name]
        z_own = net(torch.randn(32, 8, generator=torch.Generator().manual_seed(5))).detach()
        own = class_score(G, bundle.classifier, z_own, k)
        rand = class_score(G, bundle.classifier, G.sample_z(32, seed=6), k)
        assert own > rand, (name, own, rand)
        gains.append(own - rand)
        assert bundle.info["scores"][name]["own"] > bundle.info["scores"][name]["random"]
    assert max(gains) > 0.3, gains  # the class random samples miss is found
    # sampling a class writes its codes and images; the same seed gives the same pixels
    assert main(["sample", str(gen_file), "--latent-generator", str(out), "--class", "warm", "-n", "3",
                 "-o", str(tmp_path / "s1"), "--quiet"]) == 0
    assert main(["sample", str(gen_file), "--latent-generator", str(out), "--class", "warm", "-n", "3",
                 "-o", str(tmp_path / "s2"), "--quiet"]) == 0
    a = np.asarray(Image.open(tmp_path / "s1" / "latent0000002.png"))
    assert np.array_equal(a, np.asarray(Image.open(tmp_path / "s2" / "latent0000002.png")))
    assert np.load(tmp_path / "s1" / "class-warm.npy").shape == (3, G.num_ws, 16)
    capsys.readouterr()
    bad = [
        ["sample", str(gen_file), "--latent-generator", str(out), "--class", "hot", "-n", "2",
         "-o", str(tmp_path / "b")],
        ["sample", str(gen_file), "--class", "warm", "-n", "2", "-o", str(tmp_path / "b")],
        ["sample", str(gen_file), "--latent-generator", str(labels), "--class", "warm", "-o", str(tmp_path / "b")],
        ["train-latent-generator", str(gen_file), "--images", str(tmp_path / "images"), "--labels", str(labels),
         "-o", str(out)],  # exists
        ["train-latent-generator", str(gen_file), "--images", str(tmp_path / "none"), "--labels", str(labels),
         "-o", str(tmp_path / "x.safetensors")],
    ]
    for argv in bad:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: "), (argv, err)


def test_diversity_and_prior_terms():
    z = torch.randn(16, 4, generator=torch.Generator().manual_seed(0))
    assert diversity_loss(z * 0.01) > diversity_loss(z)  # collapsed codes cost more
    assert prior_loss(z * 3 + 2) > prior_loss(z)


def test_template_layers_replace_the_samples(gen_file):
    G = load_generator(gen_file)
    z, z_mix = G.sample_z(3, seed=1), G.sample_z(3, seed=2)
    donor = torch.randn(1, G.num_ws, 16)
    center = G.mean_latent()
    s = RenderSettings(truncation=0.5, mix_layers=(5, 6, 7))
    ws = _codes(G, z, z_mix, None, s, center, donor)
    plain = G.truncate(G.to_wplus(G.style(z)), 0.5, center)
    assert torch.equal(ws[:, 5:], donor[:, 5:].expand(3, -1, -1))  # template codes go in untruncated
    assert torch.allclose(ws[:, :5], plain[:, :5])


def test_sample_template_inverts_once_and_mixes(gen_file, tmp_path, capsys):
    photo = shared_data("faces/scut") / "AF1554.jpg"
    out = tmp_path / "tpl"
    base = ["sample", str(gen_file), "-n", "2", "--template", str(photo), "--template-steps", "1", "--quiet"]
    assert main([*base, "--layers", "4-7", "-o", str(out)]) == 0
    code = np.load(out / "template.npy")
    assert code.shape == (1, 8, 16) and (out / "template-inverted.png").is_file()
    stamp = (out / "template.npy").stat().st_mtime_ns
    assert main([*base, "--layers", "4-7", "-o", str(out)]) == 0  # resumes: the code is reused
    assert (out / "template.npy").stat().st_mtime_ns == stamp
    assert main(["sample", str(gen_file), "-n", "2", "-o", str(tmp_path / "plain"), "--quiet"]) == 0
    a = np.asarray(Image.open(out / "seed0000000.png")).astype(int)
    b = np.asarray(Image.open(tmp_path / "plain" / "seed0000000.png")).astype(int)
    assert np.abs(a - b).mean() > 0.5  # the template's fine layers changed the sample
    capsys.readouterr()
    assert main([*base, "-o", str(tmp_path / "range")]) == 2  # default 5-8 does not fit 8 layers
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "out of range" in err[0] and not (tmp_path / "range").exists()
