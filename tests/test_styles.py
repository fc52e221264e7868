"""Style folders: save/load round trips, the registry, and safe, strict weight loading."""

from __future__ import annotations

import json
import pickle

import pytest
import torch
from safetensors.torch import save_file

from toonforge.errors import CheckpointError, InputError
from toonforge.io.checkpoints import load_state_dict_file
from toonforge.models.factory import create_model
from toonforge.styles import available_styles, load_style
from toonforge.styles.style import NetSpec, Style, StyleConfig, save_style


def test_round_trip_gives_identical_outputs(tiny_style):
    style = load_style(tiny_style)
    assert style.name == "tiny-test" and style.spec("head").resolution == 64
    assert style.spec("full") is style.spec("head")  # no separate full network
    net = style.build_net("head")
    torch.manual_seed(0)
    ref = create_model("translator", tier="tiny").eval()
    x = torch.rand(1, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        assert torch.equal(net(x), ref(x))
    assert style.summary() == "Untrained test style."


def test_separate_full_network(tmp_path):
    head, full = create_model("translator", tier="tiny"), create_model("translator", tier="small")
    cfg = StyleConfig(name="two", head=NetSpec("translator", head.config, 64),
                      full=NetSpec("translator", full.config, 128))
    path = save_style(tmp_path / "two", cfg, {"head": head, "full": full}, "# two\n")
    style = Style.load(path)
    assert style.build_net("full").config["tier"] == "small"
    assert style.build_net("head").config["tier"] == "tiny"


def test_save_refuses_to_overwrite(tiny_style):
    cfg = load_style(tiny_style).config
    with pytest.raises(InputError, match="already exists"):
        save_style(tiny_style, cfg, {"head": create_model("translator", tier="tiny")}, "")


def test_wrong_architecture_is_one_line_error(tiny_style):
    cfg_file = tiny_style / "config.json"
    d = json.loads(cfg_file.read_text())
    d["head"]["config"]["tier"] = "small"
    cfg_file.write_text(json.dumps(d))
    with pytest.raises(CheckpointError, match="does not fit the architecture") as exc:
        load_style(tiny_style).build_net("head")
    assert "\n" not in str(exc.value)


@pytest.mark.parametrize(
    "mutate,match",
    [
        (lambda d: d.pop("name"), "no 'name'"),
        (lambda d: d.update(kind="magic"), "kind"),
        (lambda d: d.update(format=9), "format"),
        (lambda d: d["head"].update(resolution=5), "resolution"),
        (lambda d: d.update(head=None), "needs a 'head'"),
        (lambda d: d.update(full_resolution="big"), "full_resolution"),
    ],
)
def test_bad_configs(tiny_style, mutate, match):
    cfg_file = tiny_style / "config.json"
    d = json.loads(cfg_file.read_text())
    mutate(d)
    cfg_file.write_text(json.dumps(d))
    with pytest.raises(InputError, match=match):
        load_style(tiny_style)


def test_not_json_and_missing_weights(tiny_style, tmp_path):
    (tiny_style / "model.safetensors").unlink()
    with pytest.raises(InputError, match="no model.safetensors"):
        load_style(tiny_style)
    (tiny_style / "config.json").write_text("{not json")
    with pytest.raises(InputError, match="bad style config"):
        load_style(tiny_style)
    with pytest.raises(InputError, match="not a style folder"):
        load_style(tmp_path / "nowhere" / "x")


def test_registry_search_path(tiny_style, monkeypatch):
    monkeypatch.setenv("TOONFORGE_STYLES", str(tiny_style.parent))
    assert "tiny-test" in available_styles()
    assert load_style("tiny-test").path == tiny_style
    assert "filter" in available_styles()
    with pytest.raises(InputError, match="unknown style 'nope'"):
        load_style("nope")


def test_shipped_styles_load():
    styles = available_styles()
    assert "filter" in styles
    assert load_style("filter").config.kind == "filter"


# ---- weight files ----------------------------------------------------------------------------
def test_pickles_refused_unless_allowed(tmp_path):
    class Evil:
        def __reduce__(self):
            import os

            return (os.system, ("echo pwned",))

    p = tmp_path / "evil.pkl"
    p.write_bytes(pickle.dumps({"w": Evil()}))
    with pytest.raises(CheckpointError, match="does not read pickles"):
        load_state_dict_file(p)
    with pytest.raises(CheckpointError, match="not allowed"):
        load_state_dict_file(p, allow_pickle=True)


def test_tensor_pickle_loads_when_allowed(tmp_path):
    p = tmp_path / "ok.pkl"
    with p.open("wb") as f:
        pickle.dump({"w": torch.ones(2)}, f)
    assert torch.equal(load_state_dict_file(p, allow_pickle=True)["w"], torch.ones(2))


def test_pt_uses_weights_only(tmp_path):
    good = tmp_path / "good.pt"
    torch.save({"state_dict": {"a": torch.zeros(3)}}, good)
    assert set(load_state_dict_file(good)) == {"a"}
    bad = tmp_path / "bad.pt"
    torch.save({"a": torch.nn.Linear(1, 1)}, bad)  # a module object needs full unpickling
    with pytest.raises(CheckpointError, match="cannot load bad.pt"):
        load_state_dict_file(bad)


def test_corrupt_and_unknown_files(tmp_path):
    st = tmp_path / "x.safetensors"
    save_file({"a": torch.zeros(4)}, str(st))
    st.write_bytes(st.read_bytes()[:20])
    with pytest.raises(CheckpointError, match="cannot load x.safetensors"):
        load_state_dict_file(st)
    other = tmp_path / "x.h5"
    other.write_bytes(b"123")
    with pytest.raises(CheckpointError, match="unsupported"):
        load_state_dict_file(other)
