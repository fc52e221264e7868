"""The one model file format: configs recorded from the constructor, the old schemes still loading."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from toonforge.errors import CheckpointError
from toonforge.models.factory import create_model, load_model
from toonforge.models.model_file import parse_model_meta, read_model_meta, save_model
from toonforge.models.registry import constructor_config, register_model


def _state(net: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.contiguous() for k, v in net.state_dict().items()}


def test_config_is_the_constructor_arguments_with_defaults():
    net = create_model("translator", tier="tiny")
    assert net.config == {"tier": "tiny", "in_channels": 3, "out_channels": 3}
    d = create_model("projected_discriminator", layers=(7, 3, 3), head_channels=8)
    assert d.config == {"layers": [7, 3, 3], "head_channels": 8}  # the pretrained trunk is not config
    assert create_model("projected_discriminator", **d.config).config == d.config


def test_a_constructor_argument_that_is_not_json_is_refused():
    class Holder(nn.Module):
        def __init__(self, width: int = 2, trunk: object = None) -> None:
            super().__init__()
            self.lin = nn.Linear(width, width)

    assert constructor_config(Holder, (), {"width": 3}) == {"width": 3, "trunk": None}
    with pytest.raises(TypeError, match="exclude"):
        constructor_config(Holder, (), {"trunk": object()})
    assert constructor_config(Holder, (), {"trunk": object()}, exclude=("trunk",)) == {"width": 2}


def test_a_subclass_records_its_own_arguments(monkeypatch):
    from toonforge.models import registry

    monkeypatch.setattr(registry, "_MODELS", dict(registry._MODELS))  # the test classes do not stay registered

    @register_model("test-subclass-parent")
    class Parent(nn.Module):
        def __init__(self, a: int = 1) -> None:
            super().__init__()
            self.a = a

    @register_model("test-subclass-child")
    class Child(Parent):
        def __init__(self, b: int = 2) -> None:
            super().__init__(a=b * 10)

    assert Parent(a=4).config == {"a": 4}
    assert Child(b=3).config == {"b": 3}


@pytest.mark.parametrize("scheme", ["generator-1", "stylegan2", "zplus"])
def test_files_of_the_old_schemes_still_load(tmp_path, scheme):
    torch.manual_seed(0)
    if scheme == "generator-1":
        net = create_model("translator", tier="tiny")
        meta = {"format": "toonforge-generator-1", "model": "translator", "config": json.dumps(net.config),
                "info": json.dumps({"task": "ugatit"})}
    elif scheme == "stylegan2":
        net = create_model("stylegan2_generator", size=16, style_dim=16, n_mlp=2, channel_max=16)
        meta = {"format": "pt", "toonforge_model": "stylegan2_generator", "config": json.dumps(net.config)}
    else:
        net = create_model("hierarchical-encoder", size=16, num_ws=4, style_dim=16)
        meta = {"toonforge_model": "zplus_encoder", "config": json.dumps(net.config)}
    path = tmp_path / "old.safetensors"
    save_file(_state(net), str(path), metadata=meta)
    back, found, _ = load_model(path)
    assert back.model_name == net.model_name and back.config == net.config
    assert all(torch.equal(back.state_dict()[k], v) for k, v in net.state_dict().items())
    assert found.info == ({"task": "ugatit"} if scheme == "generator-1" else {})


def test_bad_files_are_one_line_errors(tmp_path):
    net = create_model("translator", tier="tiny")
    plain = tmp_path / "plain.safetensors"
    save_file(_state(net), str(plain))
    with pytest.raises(CheckpointError, match="not a toonforge model file"):
        read_model_meta(plain)
    with pytest.raises(CheckpointError, match="not found"):
        read_model_meta(tmp_path / "missing.safetensors")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x00" * 64)
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        read_model_meta(junk)
    with pytest.raises(CheckpointError, match="unreadable config"):
        parse_model_meta({"toonforge_format": "toonforge-model-1", "model": "translator", "config": "{"})
    good = save_model(tmp_path / "good.safetensors", net)
    with pytest.raises(CheckpointError, match="not a texture_unet"):
        load_model(good, expect="texture_unet")
    wrong = tmp_path / "wrong.safetensors"
    save_file(_state(create_model("translator", tier="small")), str(wrong),
              metadata={"toonforge_format": "toonforge-model-1", "model": "translator",
                        "config": json.dumps(net.config)})
    with pytest.raises(CheckpointError) as err:
        load_model(wrong)
    assert "\n" not in str(err.value)
    with pytest.raises(CheckpointError, match=r"\.safetensors"):
        save_model(tmp_path / "m.pt", net)
