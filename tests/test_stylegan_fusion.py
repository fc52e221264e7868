"""Model fusion: blend extremes reproduce A / B exactly, layer swap touches only the right keys, the
sigmoid schedule, chaining, style mixing, architecture mismatches, and the ``blend`` command."""

from __future__ import annotations

import math

import pytest
import torch

from toonforge.cli.main import main
from toonforge.errors import CheckpointError, InputError
from toonforge.models.stylegan2 import Generator, load_generator, save_generator
from toonforge.stylegan import (
    blend_generators,
    blend_state_dicts,
    chain_generators,
    constant_schedule,
    layer_swap,
    layer_weights,
    mix_codes,
    parse_layers,
    sigmoid_schedule,
)

TINY = {"style_dim": 16, "n_mlp": 2, "channel_max": 8}
pytestmark = pytest.mark.usefixtures("small_model_cpu")


def _gen(seed: int, size: int = 32, **kw) -> Generator:
    torch.manual_seed(seed)
    G = Generator(size, **{**TINY, **kw}).eval()
    with torch.no_grad():  # non-zero noise strengths so the noise buffers matter
        for i, conv in enumerate([G.conv1, *G.convs]):
            conv.noise.weight.fill_(0.1 + 0.01 * i + 0.05 * seed)
    return G


@pytest.fixture(scope="module")
def pair():
    return _gen(1), _gen(2)


def _out(G, seed=5):
    z = G.sample_z(2, seed)
    with torch.no_grad():
        return G(z, noise=G.make_noise(seed), truncation=1.0)


@pytest.mark.parametrize("weight", [0.0, 1.0])
def test_blend_extremes_reproduce_each_side(pair, weight):
    a, b = pair
    g = blend_generators(a, b, constant_schedule(weight), mapping="blend")
    target = a if weight == 0 else b
    assert torch.equal(_out(g), _out(target))
    for k, v in g.state_dict().items():
        assert torch.equal(v, target.state_dict()[k]), k
    mid = blend_generators(a, b, constant_schedule(0.5), mapping="blend")
    k = "convs.1.conv.weight"
    assert torch.allclose(mid.state_dict()[k], (a.state_dict()[k] + b.state_dict()[k]) / 2)


@pytest.mark.parametrize("b_side", ["fine", "coarse"])
def test_layer_swap_changes_only_layers_on_one_side(pair, b_side):
    a, b = pair
    g = layer_swap(a, b, 16, b_side=b_side)
    sa, sb = a.state_dict(), b.state_dict()
    from_b = 0
    for k, v in g.state_dict().items():
        res = a.param_resolution(k)
        use_b = res is not None and ((res >= 16) if b_side == "fine" else (res < 16))
        assert torch.equal(v, sb[k] if use_b else sa[k]), k
        from_b += use_b and not torch.equal(sa[k], sb[k])
    assert from_b > 0
    assert all(torch.equal(g.state_dict()[k], sa[k]) for k in sa if k.startswith("style."))  # mapping from A
    assert g.latent_avg is None  # A had none, mapping kept from A


def test_sigmoid_schedule_monotonic_and_centred():
    s = sigmoid_schedule(32, sharpness=1.5)
    vals = [s(r) for r in (4, 8, 16, 32, 64, 128, 256)]
    assert all(x < y for x, y in zip(vals, vals[1:]))
    assert s(32) == pytest.approx(0.5) and 0 < vals[0] and vals[-1] < 1
    flipped = sigmoid_schedule(32, sharpness=1.5, b_side="coarse")
    assert all(math.isclose(flipped(r), 1 - s(r)) for r in (4, 32, 256))
    with pytest.raises(InputError):
        sigmoid_schedule(32, sharpness=0)


def test_layer_weights_mapping_options(pair):
    a, _ = pair
    sched = sigmoid_schedule(16)
    w = layer_weights(a, sched, mapping="blend")
    mean = sum(map(sched, a.layer_resolutions())) / a.num_ws
    assert w["style.1.weight"] == pytest.approx(mean)
    assert w["noises.noise_0"] == pytest.approx(sched(4)) and w["to_rgbs.2.conv.weight"] == pytest.approx(sched(32))
    assert layer_weights(a, sched, mapping="b")["style.2.bias"] == 1.0
    with pytest.raises(InputError):
        layer_weights(a, sched, mapping="c")


def test_chain_takes_bands_from_each_generator(pair):
    a, b = pair
    c = _gen(3)
    g = chain_generators([a, b, c], [8, 32])
    for k, v in g.state_dict().items():
        res = a.param_resolution(k)
        src = a if res is None or res < 8 else (b if res < 32 else c)
        assert torch.equal(v, src.state_dict()[k]), k
    with pytest.raises(InputError, match="increase"):
        chain_generators([a, b, c], [32, 8])


def test_mismatched_architectures_give_one_line_errors(pair):
    a, _ = pair
    other = _gen(4, channel_max=4)
    with pytest.raises(CheckpointError) as err:
        blend_generators(a, other, constant_schedule(0.5))
    assert "\n" not in str(err.value) and "architecture" in str(err.value)
    with pytest.raises(CheckpointError):
        blend_state_dicts({"x": torch.zeros(2)}, {"x": torch.zeros(3)}, {"x": 0.5})


def test_mix_codes_and_parse_layers():
    assert parse_layers("5-8") == [5, 6, 7, 8] and parse_layers("0, 2,4-5") == [0, 2, 4, 5]
    for bad in ("8-5", "x", "-1", ""):
        with pytest.raises(InputError):
            parse_layers(bad)
    with pytest.raises(InputError, match="out of range"):
        parse_layers("5-8", num_ws=8)
    w1, w2 = torch.zeros(2, 8, 4), torch.ones(1, 8, 4)
    m = mix_codes(w1, w2, [5, 6, 7])
    assert m[:, 5:].eq(1).all() and m[:, :5].eq(0).all() and w1.eq(0).all()


def _cli(args, capsys):
    code = main([str(x) for x in args])
    return code, capsys.readouterr().err


def test_blend_command(pair, tmp_path, capsys):
    a, b = pair
    pa, pb = save_generator(tmp_path / "a.safetensors", a), save_generator(tmp_path / "b.safetensors", b)
    out, preview = tmp_path / "ab.safetensors", tmp_path / "ab.png"
    code, err = _cli(["blend", pa, pb, "-o", out, "--swap-resolution", "16", "--preview", preview], capsys)
    assert code == 0, err
    g = load_generator(out)
    assert torch.equal(g.state_dict()["convs.3.conv.weight"], b.state_dict()["convs.3.conv.weight"])
    assert torch.equal(g.state_dict()["convs.0.conv.weight"], a.state_dict()["convs.0.conv.weight"])
    assert preview.stat().st_size > 0
    code, err = _cli(["blend", pa, pb, "-o", out, "--weight", "0.3"], capsys)  # exists
    assert code == 2 and err.count("\n") == 1 and "already exists" in err
    code, err = _cli(["blend", pa, pb, "-o", out, "--schedule", "sigmoid", "--center", "16", "--overwrite"], capsys)
    assert code == 0, err
    code, err = _cli(["blend", pa, tmp_path / "missing.safetensors", "-o", tmp_path / "x.safetensors",
                      "--weight", "0.5"], capsys)
    assert code == 2 and err.count("\n") == 1 and "not found" in err
    pc = save_generator(tmp_path / "c.safetensors", _gen(4, channel_max=4))
    code, err = _cli(["blend", pa, pc, "-o", tmp_path / "y.safetensors", "--weight", "0.5"], capsys)
    assert code == 2 and err.count("\n") == 1 and "architecture" in err
    code, err = _cli(["blend", pa, pb, "-o", tmp_path / "z.safetensors", "--schedule", "sigmoid"], capsys)
    assert code == 2 and "--center" in err
