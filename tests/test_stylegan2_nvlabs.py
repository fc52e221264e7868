"""NVlabs .pkl conversion: a pickle built like a StyleGAN2-ADA snapshot (torch_utils.persistence objects
carrying source code that must never run) converts to rosinality weights that load strictly and give
the same images; unsafe globals are refused."""

from __future__ import annotations

import builtins
import os
import pickle
import sys
import types
from collections import OrderedDict

import numpy as np
import pytest
import torch

from toonforge.errors import CheckpointError, InputError
from toonforge.io.outputs import MARKER
from toonforge.models.stylegan2 import Discriminator, Generator, load_discriminator, load_generator
from toonforge.models.stylegan2.nvlabs import convert_nvlabs_pkl

TINY = {"style_dim": 16, "n_mlp": 2, "channel_max": 8}


pytestmark = pytest.mark.usefixtures("small_model_cpu")


@pytest.fixture
def fake_nvlabs(monkeypatch, tmp_path):
    """Modules named like NVlabs' so that pickle writes the same globals; present only during the test."""
    persistence = types.ModuleType("torch_utils.persistence")
    util = types.ModuleType("dnnlib.util")

    def _reconstruct_persistent_obj(meta):  # what NVlabs' unpickling would call (and exec meta's source)
        raise AssertionError("the converter must not call the real reconstruct function")

    _reconstruct_persistent_obj.__module__ = "torch_utils.persistence"
    _reconstruct_persistent_obj.__qualname__ = "_reconstruct_persistent_obj"

    class EasyDict(dict):
        pass

    EasyDict.__module__, EasyDict.__qualname__ = "dnnlib.util", "EasyDict"
    persistence._reconstruct_persistent_obj = _reconstruct_persistent_obj
    util.EasyDict = EasyDict
    for name, mod in (("torch_utils", types.ModuleType("torch_utils")), ("torch_utils.persistence", persistence),
                      ("dnnlib", types.ModuleType("dnnlib")), ("dnnlib.util", util)):
        monkeypatch.setitem(sys.modules, name, mod)
    marker = tmp_path / "source_was_executed"

    class Persistent:
        """Pickles as ``_reconstruct_persistent_obj(meta)``, like a torch_utils.persistence object."""

        def __init__(self, class_name, params=(), buffers=(), modules=(), **attrs):
            self.meta = {
                "type": "class", "version": 6, "class_name": class_name,
                "module_src": f"open({str(marker)!r}, 'w').write('ran')\n",  # must never run
                "state": {"training": False, "_parameters": OrderedDict(params), "_buffers": OrderedDict(buffers),
                          "_non_persistent_buffers_set": set(), "_modules": OrderedDict(modules),
                          "_forward_hooks": OrderedDict(), **attrs},
            }

        def __reduce__(self):
            return (_reconstruct_persistent_obj, (self.meta,))

    return types.SimpleNamespace(Persistent=Persistent, EasyDict=EasyDict, marker=marker)


def _param(t):
    return torch.nn.Parameter(t.detach().clone())


def _fc(P, w, b, lr=1.0):
    # NVlabs FullyConnectedLayer: weight (out, in) stored / lr, bias raw; numpy float attributes.
    return P("FullyConnectedLayer", [("weight", _param(w)), ("bias", _param(b))],
             lr_multiplier=lr, weight_gain=np.float64(lr / np.sqrt(w.shape[1])), activation="lrelu")


def _nv_generator(P, G: Generator, conv_clamp=None):
    """The module tree NVlabs' Generator (architecture 'skip') has for G's weights."""
    sd = G.state_dict()
    filt = G.convs[0].conv.blur.kernel / 4  # NVlabs keeps the normalized filter (sum 1)

    def layer(src, noise_idx):
        w = sd[f"{src}.conv.weight"][0]
        return P("SynthesisLayer",
                 [("weight", _param(w)), ("noise_strength", _param(sd[f"{src}.noise.weight"][0])),
                  ("bias", _param(sd[f"{src}.activate.bias"]))],
                 [("resample_filter", filt.clone()), ("noise_const", sd[f"noises.noise_{noise_idx}"][0, 0].clone())],
                 [("affine", _fc(P, sd[f"{src}.conv.modulation.weight"], sd[f"{src}.conv.modulation.bias"]))],
                 up=2 if noise_idx % 2 else 1, conv_clamp=conv_clamp)

    def torgb(src):
        params = [("weight", _param(sd[f"{src}.conv.weight"][0])), ("bias", _param(sd[f"{src}.bias"].flatten()))]
        affine = _fc(P, sd[f"{src}.conv.modulation.weight"], sd[f"{src}.conv.modulation.bias"])
        return P("ToRGBLayer", params, [], [("affine", affine)], conv_clamp=conv_clamp)

    blocks = [("b4", P("SynthesisBlock", [("const", _param(sd["input.input"][0]))], [("resample_filter", filt.clone())],
                       [("conv1", layer("conv1", 0)), ("torgb", torgb("to_rgb1"))], resolution=4))]
    for k in range(len(G.to_rgbs)):
        res = 2 ** (k + 3)
        blocks.append((f"b{res}", P("SynthesisBlock", [], [("resample_filter", filt.clone())], [
            ("conv0", layer(f"convs.{2 * k}", 2 * k + 1)), ("conv1", layer(f"convs.{2 * k + 1}", 2 * k + 2)),
            ("torgb", torgb(f"to_rgbs.{k}"))], resolution=res)))
    fcs = [(f"fc{i}", _fc(P, sd[f"style.{i + 1}.weight"], sd[f"style.{i + 1}.bias"], lr=0.01)) for i in range(G.n_mlp)]
    mapping = P("MappingNetwork", [], [("w_avg", torch.arange(G.style_dim, dtype=torch.float32))], fcs,
                z_dim=G.style_dim, w_dim=G.style_dim, num_layers=G.n_mlp, w_avg_beta=0.995)
    synthesis = P("SynthesisNetwork", [], [], blocks, block_resolutions=[2**i for i in range(2, G.log_size + 1)])
    return P("Generator", [], [], [("synthesis", synthesis), ("mapping", mapping)], z_dim=G.style_dim, c_dim=0,
             w_dim=G.style_dim, img_resolution=G.size, img_channels=3, num_ws=G.num_ws)


def _nv_discriminator(P, D: Discriminator, group_size=4, conv_clamp=None):
    """NVlabs' Discriminator (architecture 'resnet') for D's weights."""
    sd = D.state_dict()
    filt = D.convs[1].conv2[0].kernel

    def conv(w, b=None):
        return P("Conv2dLayer", [("weight", _param(w)), ("bias", None if b is None else _param(b))],
                 [("resample_filter", filt.clone())], [], weight_gain=np.float64(1 / np.sqrt(w[0].numel())),
                 conv_clamp=conv_clamp)

    blocks = []
    for i in range(1, len(D.convs)):
        res = D.size // 2 ** (i - 1)
        mods = [("fromrgb", conv(sd["convs.0.0.weight"], sd["convs.0.1.bias"]))] if i == 1 else []
        mods += [("conv0", conv(sd[f"convs.{i}.conv1.0.weight"], sd[f"convs.{i}.conv1.1.bias"])),
                 ("conv1", conv(sd[f"convs.{i}.conv2.1.weight"], sd[f"convs.{i}.conv2.2.bias"])),
                 ("skip", conv(sd[f"convs.{i}.skip.1.weight"]))]
        block = P("DiscriminatorBlock", [], [("resample_filter", filt.clone())], mods, resolution=res)
        blocks.append((f"b{res}", block))
    epilogue = P("DiscriminatorEpilogue", [], [], [
        ("mbstd", P("MinibatchStdLayer", group_size=group_size, num_channels=1)),
        ("conv", conv(sd["final_conv.0.weight"], sd["final_conv.1.bias"])),
        ("fc", _fc(P, sd["final_linear.0.weight"], sd["final_linear.0.bias"])),
        ("out", _fc(P, sd["final_linear.1.weight"], sd["final_linear.1.bias"]))])
    return P("Discriminator", [], [], [*blocks, ("b4", epilogue)], c_dim=0, img_resolution=D.size)


def _randomize(net, seed):
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.3)
    return net.eval()


@pytest.fixture(scope="module")
def nets():
    torch.manual_seed(0)
    return _randomize(Generator(32, **TINY), 1), _randomize(Discriminator(32, channel_max=8), 2)


def test_snapshot_converts_without_running_its_code(tmp_path, fake_nvlabs, nets):
    G, D = nets
    P = fake_nvlabs.Persistent
    G_ema = _nv_generator(P, G)
    snapshot = {"G": G_ema, "D": _nv_discriminator(P, D), "G_ema": G_ema, "augment_pipe": None,
                "training_set_kwargs": fake_nvlabs.EasyDict(path="data.zip", resolution=32)}
    path = tmp_path / "network-snapshot-000100.pkl"
    path.write_bytes(pickle.dumps(snapshot, protocol=4))
    assert b"torch_utils.persistence" in path.read_bytes() and b"_reconstruct_persistent_obj" in path.read_bytes()

    with pytest.raises(InputError, match="can run code"):
        convert_nvlabs_pkl(path, allow_pickle=False)
    out = convert_nvlabs_pkl(path, allow_pickle=True)
    assert set(out) == {"g_ema", "g", "d", "latent_avg", "settings"}
    assert out["settings"]["d"] == {"stddev_group": 4, "conv_clamp": None}
    # Every value lands under the rosinality name it came from, with rosinality's shape.
    for name, want in (("g_ema", G.state_dict()), ("d", D.state_dict())):
        assert set(out[name]) == set(want)
        for k, v in want.items():
            assert torch.equal(out[name][k], v), k
    torch.testing.assert_close(out["latent_avg"], torch.arange(16, dtype=torch.float32)[None])

    G2, D2 = load_generator(path, allow_pickle=True), load_discriminator(path, allow_pickle=True)
    z = G.sample_z(2, seed=0)
    with torch.no_grad():
        torch.testing.assert_close(G2(z, randomize_noise=False), G(z, randomize_noise=False), atol=0, rtol=0)
        x = torch.randn(2, 3, 32, 32)
        torch.testing.assert_close(D2(x), D(x), atol=0, rtol=0)
    torch.testing.assert_close(G2.latent_avg, out["latent_avg"])
    assert not fake_nvlabs.marker.exists()


def test_protocol_2_snapshot_with_generator_only(tmp_path, fake_nvlabs, nets):
    G, _ = nets
    path = tmp_path / "g.pkl"
    path.write_bytes(pickle.dumps({"G_ema": _nv_generator(fake_nvlabs.Persistent, G)}, protocol=2))
    out = convert_nvlabs_pkl(path, allow_pickle=True)
    assert set(out) == {"g_ema", "latent_avg", "settings"}
    assert all(torch.equal(out["g_ema"][k], v) for k, v in G.state_dict().items())


def test_unsupported_networks_are_refused(tmp_path, fake_nvlabs):
    P = fake_nvlabs.Persistent
    sg3 = P("Generator", [], [], [("synthesis", P("SynthesisNetwork", [], [], [
        ("input", P("SynthesisInput", [("weight", _param(torch.zeros(4, 4)))]))]))])
    path = tmp_path / "sg3.pkl"
    path.write_bytes(pickle.dumps({"G_ema": sg3}))
    with pytest.raises(CheckpointError, match="StyleGAN3"):
        convert_nvlabs_pkl(path, allow_pickle=True)
    path.write_bytes(pickle.dumps({"something": torch.zeros(2)}))
    with pytest.raises(CheckpointError, match="no NVlabs networks"):
        convert_nvlabs_pkl(path, allow_pickle=True)


class _CallsGlobal:
    def __init__(self, func, arg):
        self.func, self.arg = func, arg

    def __reduce__(self):
        return (self.func, (self.arg,))


@pytest.mark.parametrize("func", [os.system, builtins.eval, builtins.exec, builtins.getattr])
def test_code_running_globals_are_refused(tmp_path, func):
    marker = tmp_path / "ran"
    arg = f"touch {marker}" if func is os.system else f"open({str(marker)!r}, 'w')"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"G_ema": _CallsGlobal(func, arg)}))
    with pytest.raises(CheckpointError, match="not allowed") as info:
        convert_nvlabs_pkl(path, allow_pickle=True)
    assert "\n" not in str(info.value)
    assert not marker.exists()


# ---- settings the weights cannot tell: stddev group, conv clamp; the command line -------------------
def _snapshot(path, fake_nvlabs, G, D, **d_kw):
    P = fake_nvlabs.Persistent
    clamp = d_kw.get("conv_clamp")
    g = _nv_generator(P, G, conv_clamp=clamp)
    path.write_bytes(pickle.dumps({"G": g, "G_ema": g, "D": _nv_discriminator(P, D, **d_kw)}, protocol=4))
    return path


def _nvlabs_mbstd(x, group):
    """NVlabs' MinibatchStdLayer (num_channels 1), written from its published code."""
    n, c, h, w = x.shape
    y = x.reshape(group, -1, 1, c, h, w)
    y = (y - y.mean(dim=0)).square().mean(dim=0)
    y = (y + 1e-8).sqrt().mean(dim=[2, 3, 4]).reshape(-1, 1, 1, 1)
    return torch.cat([x, y.repeat(group, 1, h, w)], dim=1)


def test_stddev_group_and_conv_clamp_convert_exactly(tmp_path, fake_nvlabs, nets):
    G, D = nets
    path = _snapshot(tmp_path / "paper256.pkl", fake_nvlabs, G, D, group_size=8, conv_clamp=0.5)
    G2, D2 = load_generator(path, allow_pickle=True), load_discriminator(path, allow_pickle=True)
    assert D2.config["stddev_group"] == 8 and D2.config["conv_clamp"] == 0.5 and G2.config["conv_clamp"] == 0.5

    # D: the epilogue sees NVlabs' group-8 statistic (a group of 4 would score differently).
    x = torch.randn(8, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        feats = D2.convs(x)
        want = D2.final_linear(D2.final_conv(_nvlabs_mbstd(feats, 8)).flatten(1))
        torch.testing.assert_close(D2(x), want, atol=1e-6, rtol=1e-6)
        assert not torch.allclose(D(x), D2(x))  # the unclamped, group-4 network differs
        seen_d = []
        hooks = [m.register_forward_hook(lambda m, i, o: seen_d.append(float(o.abs().max())))
                 for m in D2.modules() if type(m).__name__ == "ConvLayer"]
        D2(x)
        for h in hooks:
            h.remove()
        assert len(seen_d) == 2 + 3 * (len(D2.convs) - 1) and max(seen_d) <= 0.5
    # G: every synthesis layer's output (the RGB ones before the skip) stays inside the clamp.
    seen = []
    hooks = [m.register_forward_hook(lambda m, i, o: seen.append(float(o.abs().max())))
             for m in G2.modules() if type(m).__name__ == "StyledConv"]
    hooks += [m.register_forward_hook(lambda m, i, o: seen.append(float((o - m.upsample(i[2])).abs().max())))
              for m in G2.to_rgbs]
    z = G.sample_z(2, seed=0)
    with torch.no_grad():
        img = G2(z, randomize_noise=False)
        free = G(z, randomize_noise=False)
    for h in hooks:
        h.remove()
    assert seen and max(seen) <= 0.5 + 1e-6
    assert not torch.allclose(img, free)  # these random weights pass the clamp, so it matters

    # A setting the layers disagree on is refused in one line.
    P = fake_nvlabs.Persistent
    bad = _nv_generator(P, G, conv_clamp=256)
    bad.meta["state"]["_modules"]["synthesis"].meta["state"]["_modules"]["b4"].meta["state"]["_modules"][
        "conv1"].meta["state"]["conv_clamp"] = 128
    (tmp_path / "mixed.pkl").write_bytes(pickle.dumps({"G_ema": bad}))
    with pytest.raises(CheckpointError, match="mixes conv_clamp"):
        load_generator(tmp_path / "mixed.pkl", allow_pickle=True)


def test_truncation_cutoff_keeps_later_layers():
    G = _randomize(Generator(32, **TINY), 5)
    w = G.mapping(G.sample_z(3, seed=1))
    avg = torch.zeros(1, G.style_dim)
    ws = G.truncate(w, 0.5, avg, cutoff=4)
    assert ws.shape == (3, G.num_ws, G.style_dim)
    torch.testing.assert_close(ws[:, :4], 0.5 * w[:, None].expand(-1, 4, -1))
    torch.testing.assert_close(ws[:, 4:], w[:, None].expand(-1, G.num_ws - 4, -1))
    torch.testing.assert_close(G.truncate(w, 0.5, avg, cutoff=G.num_ws), 0.5 * w)


def test_commands_take_snapshots_only_with_the_flag(tmp_path, fake_nvlabs, nets, capsys):
    from toonforge.cli.main import main

    G, D = nets
    path = _snapshot(tmp_path / "nv.pkl", fake_nvlabs, G, D, group_size=8, conv_clamp=0.5)
    assert main(["sample", str(path), "-o", str(tmp_path / "s"), "-n", "1", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "--allow-pickle" in err and "allow_pickle=True (" not in err
    assert "\n" not in err
    assert main(["sample", str(path), "-o", str(tmp_path / "s"), "-n", "1", "--quiet", "--allow-pickle",
                 "--truncation-cutoff", "2"]) == 0
    assert (tmp_path / "s" / "seed0000000.png").is_file()

    out = tmp_path / "conv"
    assert main(["convert", str(path), "-o", str(out), "--allow-pickle", "--quiet"]) == 0
    written = sorted(p.name for p in out.iterdir() if p.name != MARKER)  # the output-safety marker aside
    assert written == ["D.safetensors", "G.safetensors", "G_ema.safetensors"]
    D3, G3 = load_discriminator(out / "D.safetensors"), load_generator(out / "G_ema.safetensors")
    D2, G2 = load_discriminator(path, allow_pickle=True), load_generator(path, allow_pickle=True)
    assert D3.config == D2.config and G3.config == G2.config
    x, z = torch.randn(8, 3, 32, 32), G.sample_z(2, seed=4)
    with torch.no_grad():
        assert torch.equal(D3(x), D2(x)) and torch.equal(G3(z, randomize_noise=False), G2(z, randomize_noise=False))
    torch.testing.assert_close(G3.latent_avg, G2.latent_avg)
    from toonforge.training.stylegan_source import load_source

    src = load_source(path, allow_pickle=True)  # transfer learning gets the snapshot's D
    assert src.D is not None and src.D.config == D2.config
    assert main(["convert", str(path), "-o", str(out), "--allow-pickle"]) == 2
    assert "--overwrite" in capsys.readouterr().err
