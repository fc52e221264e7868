"""Every registered network: shapes, gradients, determinism, config round trip, ONNX parity."""

from __future__ import annotations

import pytest
import torch

from toonforge.errors import InputError
from toonforge.export.onnx_export import check_parity, export_onnx
from toonforge.models.factory import create_model, list_models
from toonforge.models.translator import TIERS, Translator

GENERATORS = [("translator", {"tier": t}) for t in TIERS] + [("texture_unet", {})]
GENERATORS += [("resnet_generator", {"base_channels": 8, "n_blocks": 2})]

# Small configs for families whose defaults are too big (or fixed-size) for a 64 px test.
SMALL = {
    "ugatit_generator": {"light": True, "base_channels": 8, "n_blocks": 1, "img_size": 64},
    "ugatit_discriminator": {"base_channels": 8, "n_layers": 5},
    "resnet_generator": {"base_channels": 8, "n_blocks": 2},
    "projected_discriminator": {"head_channels": 8},
    "hierarchical-encoder": {"size": 64, "num_ws": 4, "style_dim": 16},
    "twingan": {"size": 64, "base_channels": 4, "max_channels": 16, "embed_dim": 16},
}
# Progressive nets: the 1x1 from_rgb/to_rgb of the lower resolutions run only while growing.
GROWING_ONLY = {"twingan": tuple(f"{k}.{r}." for k in ("from_rgb", "to_rgb") for r in (4, 8, 16, 32))}


def _first(y):
    """The image (or logit) tensor of a model output: a tensor, or a tuple starting with it."""
    return y if isinstance(y, torch.Tensor) else y[0]


def test_registry_lists_families():
    assert {"translator", "texture_unet", "patch_discriminator"} <= set(list_models())


# Image-to-image families (StyleGAN2 takes latents and a size: tests/test_stylegan2*.py; the face
# swap takes an identity too: tests/test_faceswap.py).
IMAGE_MODELS = [n for n in list_models() if not n.startswith("stylegan2_") and n != "faceswap_ae"]


@pytest.mark.parametrize("name", IMAGE_MODELS)
def test_every_model_forward_backward(name):
    torch.manual_seed(0)
    net = create_model(name, **SMALL.get(name, {}))
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    n_styles = len(getattr(net, "styles", ()))  # a multi-style translator takes a style mix too
    out = net(x, torch.full((n_styles,), 1.0 / n_styles)) if n_styles else net(x)
    maps = out if isinstance(out, list) else [_first(out)]  # a multi-scale discriminator: every map
    assert all(torch.isfinite(y).all() for y in maps)
    sum(y.square().mean() for y in maps).backward()
    growing_only = GROWING_ONLY.get(name, ())
    grads = [p.grad for n, p in net.named_parameters() if p.requires_grad and not n.startswith(growing_only)]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)
    rebuilt = create_model(name, **net.config)
    assert rebuilt.config == net.config
    assert {k: v.shape for k, v in rebuilt.state_dict().items()} == {k: v.shape for k, v in net.state_dict().items()}


@pytest.mark.parametrize("name,cfg", GENERATORS)
def test_generators_keep_size_and_range(name, cfg):
    torch.manual_seed(0)
    net = create_model(name, **cfg).eval()
    for h, w in [(64, 64), (96, 160)]:
        with torch.no_grad():
            y = _first(net(torch.rand(1, 3, h, w) * 2 - 1))
        assert y.shape == (1, 3, h, w)
        assert y.min() >= -1 and y.max() <= 1


def test_tiers_grow_and_reference_size():
    sizes = [sum(p.numel() for p in Translator(t).parameters()) for t in ("tiny", "small", "base")]
    assert sizes == sorted(sizes) and len(set(sizes)) == 3
    ref = sum(p.numel() for p in create_model("texture_unet").parameters())
    assert 1.44e6 < ref < 1.50e6  # DCT-Net / White-box U-Net: 1.47M parameters


def _perturbed(model: torch.nn.Module) -> torch.nn.Module:
    """``model`` with random BatchNorm scales and statistics, so no layer is an identity by chance."""
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.weight.data = torch.rand(m.weight.shape, generator=g) + 0.5
            m.running_mean = torch.randn(m.running_mean.shape, generator=g) * 0.1
            m.running_var = torch.rand(m.running_var.shape, generator=g) + 0.5
    return model.eval()


def test_hd_tier_grown_from_its_base_starts_identical_then_learns_detail():
    from toonforge.models.translator import grow_state

    torch.manual_seed(0)
    small = _perturbed(Translator("small"))
    hd = Translator("small-hd")
    state = grow_state(hd, small.state_dict())
    assert set(state) - set(small.state_dict()) == {k for k in hd.state_dict() if k.startswith("full_")}
    hd.load_state_dict(state, strict=True)
    hd.eval()
    x = torch.rand(2, 3, 64, 48) * 2 - 1
    with torch.no_grad():
        assert torch.equal(hd(x), small(x))
    # the zero-initialised scales get gradients, so training can move away from the base tier
    hd.train()
    (hd(x) - torch.rand(2, 3, 64, 48)).abs().mean().backward()
    assert hd.full_skip[1].weight.grad.abs().sum() > 0
    assert hd.full_refine.body[-1][1].weight.grad.abs().sum() > 0


def test_subpixel_tier_grown_from_its_base_matches_it_inside_a_two_pixel_border():
    """The base head (bilinear x2, then a 3x3 conv) converts exactly into the half-resolution
    sub-pixel head; only the border differs (edge-repeating upsampling vs zero padding)."""
    from toonforge.models.translator import grow_state

    torch.manual_seed(0)
    small = _perturbed(Translator("small"))
    sub = Translator("small-subpixel")
    state = grow_state(sub, small.state_dict())
    assert set(state) == set(small.state_dict())
    assert state["head.weight"].shape == (12, 16, 3, 3)
    sub.load_state_dict(state, strict=True)
    sub.eval()
    x = torch.rand(2, 3, 64, 48) * 2 - 1
    with torch.no_grad():
        want, got = small(x), sub(x)
    inside = (got - want)[..., 2:-2, 2:-2].abs().max().item()
    assert inside < 1e-5
    assert (got - want).abs().max().item() > 100 * max(inside, 1e-7)  # the border really differs
    # nothing but the half-resolution head runs after the decoder: no full-size feature maps
    assert sub.head.out_channels == 12 and not hasattr(sub, "full_refine")


def test_a_tier_cannot_have_both_last_stages():
    from dataclasses import replace

    from toonforge.models.translator_tiers import TIERS as SPECS

    with pytest.raises(ValueError, match="not both"):
        replace(SPECS["small-hd"], subpixel=True)


def test_grow_state_does_not_hide_a_wrong_tier():
    from toonforge.errors import CheckpointError
    from toonforge.io.checkpoints import load_into
    from toonforge.models.translator import grow_state

    hd = Translator("small-hd")
    with pytest.raises(CheckpointError, match="wrong shapes"):
        load_into(hd, grow_state(hd, Translator("tiny").state_dict()), "tiny weights")


def test_translator_rejects_bad_shapes():
    net = Translator("tiny")
    with pytest.raises(ValueError, match="multiples of 16"):
        net(torch.zeros(1, 3, 60, 64))
    with pytest.raises(ValueError, match="expected"):
        net(torch.zeros(1, 4, 64, 64))


def test_seeded_models_are_identical():
    torch.manual_seed(3)
    a = Translator("small")
    torch.manual_seed(3)
    b = Translator("small")
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb and torch.equal(va, vb)


def test_unknown_model_and_bad_config():
    with pytest.raises(InputError, match="unknown model"):
        create_model("nope")
    with pytest.raises(InputError, match="bad config"):
        create_model("translator", widths=3)
    with pytest.raises(ValueError, match="unknown tier"):
        Translator("huge")


@pytest.mark.parametrize("name,cfg", GENERATORS)
def test_onnx_parity(tmp_path, name, cfg):
    torch.manual_seed(0)
    net = create_model(name, **cfg).eval()
    # Non-trivial BatchNorm statistics so that folding them is actually exercised.
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 2.0)
    path = export_onnx(net, tmp_path / "m.onnx", sample_size=64)
    report = check_parity(net, path, sizes=((64, 64), (96, 160)))
    assert report.ok, report.max_abs_diff
    with pytest.raises(InputError, match="already exists"):
        export_onnx(net, path)


@pytest.mark.parametrize("name", list_models())
def test_model_file_round_trip(name, tmp_path, small_model_cpu):
    """save_model -> load_model rebuilds the same config, keys and tensors; the metadata reads without weights."""
    from toonforge.models.factory import load_model
    from toonforge.models.model_file import read_model_meta, save_model

    cfg = SMALL.get(name, {"size": 16, "channel_max": 16} if name.startswith("stylegan2_") else {})
    if name == "stylegan2_generator":
        cfg = {**cfg, "style_dim": 16, "n_mlp": 2}
    torch.manual_seed(0)
    net = create_model(name, **cfg)
    path = save_model(tmp_path / "m.safetensors", net, {"step": 7})
    meta = read_model_meta(path)
    assert (meta.model, meta.config, meta.info) == (name, net.config, {"step": 7})
    back, meta2, _ = load_model(path, expect=name)
    assert type(back) is type(net) and back.config == net.config and not back.training
    own, got = net.state_dict(), back.state_dict()
    assert list(got) == list(own) and all(torch.equal(got[k], own[k]) for k in own)
