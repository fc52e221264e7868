"""TwinGAN: the domain switch lives in the norm parameters, progressive shapes, losses, the trainer
(resume, files, translate) and twin-search (itself first, the cache, bad inputs)."""

from __future__ import annotations

import json
import os

import pytest
import torch
from PIL import Image

from test_cyclegan import MeanColour, make_domains
from toonforge.cli.main import main
from toonforge.errors import InputError
from toonforge.losses.twingan import twin_discriminator_terms, twin_generator_terms
from toonforge.models.factory import create_model
from toonforge.models.generator_file import load_generator_file, save_generator_file
from toonforge.models.twingan import DomainNorm
from toonforge.pipelines.twin_search import twin_search
from toonforge.training.loop import LoopConfig, train
from toonforge.training.twingan_task import TwinGANConfig, TwinGANTask, resolution_at

pytestmark = pytest.mark.usefixtures("small_model_cpu")


def tiny(**kw) -> torch.nn.Module:
    torch.manual_seed(0)
    return create_model("twingan", **{"size": 16, "base_channels": 4, "max_channels": 8, "embed_dim": 8, **kw})


def randomize_norms(net: torch.nn.Module) -> None:
    g = torch.Generator().manual_seed(1)
    for m in net.domain_norms():
        m.weight.data = 1 + torch.randn(m.weight.shape, generator=g)
        m.bias.data = torch.randn(m.bias.shape, generator=g)


@pytest.mark.parametrize("norm", ["instance", "batch"])
def test_swapping_the_norm_parameters_swaps_the_output_domain(norm):
    net = tiny(norm=norm)
    randomize_norms(net)
    x = torch.rand(3, 3, 16, 16) * 2 - 1
    if norm == "batch":  # give each domain its own running statistics, then judge in eval mode
        with torch.no_grad():
            net(x, "photo")
            net(x * 0.5 + 0.3, "style")
    net.eval()
    with torch.no_grad():
        photo, style = net(x, "photo"), net(x, "style")
        assert (photo - style).abs().mean() > 0.01  # the two domains really differ
        state = {k: v.clone() for k, v in net.state_dict().items()}
        for m in net.domain_norms():  # swap rows 0 and 1 of every domain-specific tensor
            for t in [m.weight, m.bias] + ([m.running_mean, m.running_var] if norm == "batch" else []):
                t.data = t.data.flip(0)
        assert torch.allclose(net(x, "photo"), style, atol=1e-6)
        assert torch.allclose(net(x, "style"), photo, atol=1e-6)
        changed = [k for k in state if not torch.equal(state[k], net.state_dict()[k])]
        norm_keys = {f"{n}.{p}" for n, m in net.named_modules() if isinstance(m, DomainNorm)
                     for p in ("weight", "bias", "running_mean", "running_var")}
        assert changed and set(changed) <= norm_keys  # nothing outside the norms was touched
        for m in net.domain_norms():  # the same row for both domains: no switch left
            m.weight.data[1], m.bias.data[1] = m.weight.data[0], m.bias.data[0]
            if norm == "batch":
                m.running_mean[1], m.running_var[1] = m.running_mean[0], m.running_var[0]
        assert torch.equal(net(x, "photo"), net(x, "style"))


def test_progressive_shapes_embedding_and_bad_inputs():
    net = tiny().eval()
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    with torch.no_grad():
        for res in (4, 8, 16):
            xr = torch.nn.functional.avg_pool2d(x, 16 // res)
            y = net(xr, "photo", res=res, alpha=0.5)
            assert y.shape == (2, 3, res, res) and y.abs().max() <= 1
        z = net.embed(x)
    assert z.shape == (2, 8) and torch.allclose(z.norm(dim=1), torch.ones(2))
    net.train()
    net(torch.rand(2, 3, 8, 8), "style", res=8, alpha=0.5).square().mean().backward()
    for part in ("from_rgb", "to_rgb"):  # while growing, the fading-out branch learns too
        assert all(getattr(net, part)[r].weight.grad is not None for r in ("8", "4"))
        assert getattr(net, part)["16"].weight.grad is None
    assert net.skip_res == {8} and net.channels == {4: 8, 8: 8, 16: 4}
    with pytest.raises(InputError, match="expects"):
        net(torch.zeros(1, 3, 32, 32))
    with pytest.raises(InputError, match="domain"):
        net(x, "sketch")
    with pytest.raises(InputError, match="power of two"):
        create_model("twingan", size=48)


def test_growth_schedule():
    cfg = TwinGANConfig(photos="p", styles="s", size=64, grow_steps=10, start_res=8)
    assert resolution_at(0, cfg) == (8, 1.0)
    assert resolution_at(10, cfg) == (16, pytest.approx(0.2))
    assert resolution_at(14, cfg) == (16, 1.0)
    assert resolution_at(35, cfg)[0] == 64 and resolution_at(999, cfg) == (64, 1.0)
    cfg.grow_steps = 0
    assert resolution_at(0, cfg) == (64, 1.0)


def test_loss_terms():
    a = torch.rand(2, 3, 8, 8)
    ones, zeros = torch.ones(2, 1, 2, 2), torch.zeros(2, 1, 2, 2)
    t = twin_generator_terms(a, a, a, a + 0.5, a, ones, ones, zeros, "lsgan")
    assert float(t["rec_photo"]) == 0 and float(t["rec_style"]) == pytest.approx(0.5) and float(t["cycle"]) == 0
    assert float(t["gan_rec_photo"]) == 0 and float(t["gan_translate"]) == pytest.approx(1.0)
    d = twin_discriminator_terms(ones, ones, zeros, zeros, ones, "lsgan")
    assert float(d["D_photo"]) == 0 and float(d["D_style"]) == pytest.approx(0.5)


def test_trainer_resumes_and_writes_a_translatable_file(tmp_path):
    from toonforge.pipelines.translate import translate_folder

    photos, styles = make_domains(tmp_path, n=6, size=16)
    cfg = TwinGANConfig(photos=str(photos), styles=str(styles), size=16, base_channels=4, max_channels=8,
                        embed_dim=8, d_channels=4, d_layers=2, grow_steps=2, start_res=8, val_fraction=0.34,
                        val_max=2, norm_lr_mult=10.0)

    def loop(steps):
        return LoopConfig(total_steps=steps, batch_size=2, log_every=1, checkpoint_every=2, eval_every=2,
                          progress=False, tensorboard=False, ema_decay=0.9)

    task = TwinGANTask(cfg, extractor=MeanColour())
    first = train(task, loop(2), runs_root=tmp_path / "runs")
    rest, norms = task.opt_g.param_groups  # the norm parameters learn 10x faster
    assert norms["lr"] == pytest.approx(10 * rest["lr"])
    assert sum(p.numel() for p in norms["params"]) == sum(p.numel() for m in task.twin.domain_norms()
                                                          for p in m.parameters())
    again = train(TwinGANTask(cfg, extractor=MeanColour()), loop(4), runs_root=tmp_path / "runs",
                  resume=first.run_dir)
    assert again.run_dir == first.run_dir and again.step == 4
    stats = [json.loads(line) for line in (first.run_dir / "stats.jsonl").read_text().splitlines()]
    assert [s["grow/res"] for s in stats] == [8, 8, 16, 16] and "val/fd" in stats[-1]
    net, info = load_generator_file(first.run_dir / "generator.safetensors")
    assert net.model_name == "twingan" and info["step"] == 4 and info["size"] == 16
    rep = translate_folder(first.run_dir, photos, tmp_path / "pairs", crop="full", quiet=True, sheet=0)
    assert rep.made == 6 and (tmp_path / "pairs" / "style" / "p00.png").is_file()


@pytest.fixture
def search_setup(tmp_path):
    photos, styles = make_domains(tmp_path / "pics", n=6, size=16)
    net = tiny()
    randomize_norms(net)
    model = save_generator_file(tmp_path / "twin.safetensors", net, {"size": 16})
    return tmp_path, model, photos, styles


def test_twin_search_finds_itself_first_and_caches(search_setup):
    tmp, model, photos, styles = search_setup
    cache = tmp / "out" / "index.npz"
    rep = twin_search(model, [tmp / "pics"], styles / "s03.png", k=4, cache=cache, output=tmp / "out" / "sheet.png")
    assert rep.matches[0].path == (styles / "s03.png").resolve() and rep.matches[0].similarity == pytest.approx(1.0)
    assert rep.matches[0].domain == "styles" and len(rep.matches) == 4 and rep.indexed == 12 and rep.embedded == 12
    sims = [m.similarity for m in rep.matches]
    assert sims == sorted(sims, reverse=True)
    assert rep.sheet.is_file() and cache.is_file()
    photo_q = twin_search(model, [photos, styles], photos / "p01.png", k=2, cache=cache)
    assert photo_q.embedded == 0 and photo_q.matches[0].path == (photos / "p01.png").resolve()
    only = twin_search(model, [photos, styles], photos / "p01.png", k=3, cache=cache, domain="styles")
    assert {m.domain for m in only.matches} == {"styles"}
    Image.new("RGB", (16, 16), (10, 200, 30)).save(photos / "p02.png")
    os.utime(photos / "p02.png", ns=(1, 1))
    assert twin_search(model, [photos, styles], photos / "p02.png", k=1, cache=cache).embedded == 1
    other = tiny(embed_dim=6)
    other_file = save_generator_file(tmp / "other.safetensors", other, {"size": 16})
    with pytest.raises(InputError, match="another model"):
        twin_search(other_file, [photos], photos / "p01.png", cache=cache)


def test_twin_search_and_train_bad_inputs_give_one_error_line(search_setup, tmp_path, capsys):
    tmp, model, photos, styles = search_setup
    (tmp / "taken.png").write_bytes(b"x")
    (tmp / "junk.npz").write_bytes(b"not an index")
    resnet = save_generator_file(tmp / "resnet.safetensors", create_model("resnet_generator", base_channels=2,
                                                                          n_blocks=0), {"size": 16})
    cases = [
        ["twin-search", str(model), "--index", str(photos), "--query", str(tmp / "nope.png")],
        ["twin-search", str(model), "--index", str(tmp / "nodir"), "--query", str(photos / "p00.png")],
        ["twin-search", str(resnet), "--index", str(photos), "--query", str(photos / "p00.png")],
        ["twin-search", str(model), "--index", str(photos), "--query", str(photos / "p00.png"), "-o",
         str(tmp / "taken.png")],
        ["twin-search", str(model), "--index", str(photos), "--query", str(photos / "p00.png"), "--cache",
         str(tmp / "junk.npz")],
        ["twin-search", str(model), "--index", str(photos), "--query", str(photos / "p00.png"), "-k", "0"],
        ["twin-search", str(model), "--index", str(photos), "--query", str(photos / "p00.png"), "-o",
         str(tmp / "sheet.txt")],
        ["train-twingan", "--photos", str(photos), "--styles", str(styles), "--size", "24", "-o", str(tmp / "r")],
        ["train-twingan", "--photos", str(photos), "--styles", str(tmp / "nodir"), "-o", str(tmp / "r")],
    ]
    for argv in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: "), (argv, err)
    assert (tmp / "taken.png").read_bytes() == b"x" and (tmp / "junk.npz").read_bytes() == b"not an index"
    assert not (tmp / "r").exists()
