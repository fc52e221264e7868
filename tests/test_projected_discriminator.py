"""The projected discriminator (frozen MobileNetV2 trunk, trained heads) and its use in DCT-Net,
including a run that adds it to a checkpoint trained without it."""

from __future__ import annotations

import json

import pytest
import torch

from test_cyclegan import make_domains
from test_dctnet import loop, task, tiny_cfg
from toonforge.errors import CheckpointError, InputError
from toonforge.models.discriminators import ProjectedDiscriminator
from toonforge.models.features.mobilenetv2 import MobileNetV2
from toonforge.training.checkpoint import load_states
from toonforge.training.dctnet_task import DCTNetTask
from toonforge.training.loop import train

pytestmark = pytest.mark.usefixtures("small_model_cpu")


def random_trunk() -> MobileNetV2:
    torch.manual_seed(0)
    return MobileNetV2(num_classes=0).eval()


def test_maps_per_scale_frozen_trunk_and_gradient_to_the_input():
    d = ProjectedDiscriminator(head_channels=8, backbone=random_trunk())
    x = (torch.rand(2, 3, 128, 96) * 2 - 1).requires_grad_()
    maps = d(x)
    assert [tuple(m.shape) for m in maps] == [(2, 1, 4, 3)] * 3 + [(2, 1, 2, 1)]
    assert not any(p.requires_grad for p in d.features.parameters())
    heads = {id(p) for p in d.heads.parameters()}
    assert heads == {id(p) for p in d.parameters()} and heads  # the trunk is not in the tree
    assert all(k.startswith("heads.") for k in d.state_dict())  # nor in checkpoints
    d.to(torch.float64)  # but it moves with the heads
    assert all(p.dtype == torch.float64 for p in d.features.parameters())
    d.to(torch.float32)
    sum(m.mean() for m in maps).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is None for p in d.features.parameters())
    d.train()
    assert not d.features.training  # BatchNorm keeps its ImageNet statistics


@pytest.mark.parametrize("shape", [(1, 3, 48, 64), (1, 1, 64, 64), (1, 3, 32, 32)])
def test_refuses_sizes_it_cannot_judge(shape):
    d = ProjectedDiscriminator(head_channels=4, backbone=random_trunk())
    with pytest.raises(InputError, match="multiples of 32"):
        d(torch.zeros(shape))
    with pytest.raises(InputError, match="layers"):
        ProjectedDiscriminator(layers=(0, 3), backbone=random_trunk())


def test_load_states_leaves_added_parts_fresh_and_refuses_other_gaps():
    a, b = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    opt_a = torch.optim.Adam(a.parameters())
    ckpt = {"modules": {"a": {k: v + 1 for k, v in a.state_dict().items()}},
            "optimizers": {"a": opt_a.state_dict()}}
    before = b.weight.detach().clone()
    modules, opts = {"a": a, "b": b}, {"a": opt_a, "b": torch.optim.Adam(b.parameters())}
    with pytest.raises(CheckpointError, match="do not match"):
        load_states(ckpt, modules, opts)
    w = a.weight.detach().clone()
    assert load_states(ckpt, modules, opts, added={"b"}) == ["b"]
    assert torch.equal(a.weight, w + 1) and torch.equal(b.weight, before)
    with pytest.raises(CheckpointError, match="do not match"):  # the checkpoint's own parts must all fit
        load_states(ckpt, {"b": b}, {"b": opts["b"]}, added={"b"})


def projected_task(photos, styles, **kw) -> DCTNetTask:
    t = task(tiny_cfg(photos, styles, size=64, val_fraction=0.0, gan_start=1, **kw))
    t._projected_backbone = random_trunk()
    return t


def test_dctnet_adds_the_projected_term_to_a_run_trained_without_it(tmp_path, capsys):
    photos, styles = make_domains(tmp_path, n=4)
    plain = train(projected_task(photos, styles), loop(2, eval_every=0), runs_root=tmp_path / "a")
    ckpt = torch.load(plain.run_dir / "checkpoints" / "latest.pt", weights_only=True)
    assert "D_projected" not in ckpt["modules"]
    t = projected_task(photos, styles, w_projected=1.0, projected_channels=4)
    more = train(t, loop(4, eval_every=0), runs_root=tmp_path / "b",
                 resume=plain.run_dir / "checkpoints" / "latest.pt")
    assert more.step == 4 and "starting D_projected fresh" in capsys.readouterr().out
    stats = [json.loads(x) for x in (more.run_dir / "stats.jsonl").read_text().splitlines()]
    logged = [s for s in stats if "loss/D_projected" in s]
    assert [s["step"] for s in logged] == [3, 4] and all(s["loss/G_projected"] > 0 for s in logged)
    after = torch.load(more.run_dir / "checkpoints" / "latest.pt", weights_only=True)
    heads = {k: v for k, v in after["modules"]["D_projected"].items() if k.startswith("heads.")}
    fresh = ProjectedDiscriminator(head_channels=4, backbone=random_trunk()).state_dict()
    assert any(not torch.equal(v, fresh[k]) for k, v in heads.items())  # the heads trained
    assert set(after["modules"]["D_projected"]) == set(fresh) and all(k.startswith("heads.") for k in fresh)
    start = ProjectedDiscriminator(head_channels=4, backbone=random_trunk()).features.state_dict()
    assert all(torch.equal(v, start[k]) for k, v in t.D_projected.features.state_dict().items())  # frozen
    # A run with the term resumes as usual (its checkpoint has the part now).
    # A run with the term resumes as usual (its checkpoint has the part now), here with the heads'
    # own learning rate, which the resumed run must use rather than the checkpoint's.
    capsys.readouterr()
    slow = projected_task(photos, styles, w_projected=1.0, projected_channels=4, lr_projected=5e-5)
    again = train(slow, loop(5, eval_every=0), runs_root=tmp_path / "b", resume=more.run_dir)
    assert (again.step, again.run_dir) == (5, more.run_dir)
    assert [g["lr"] for g in slow.opt_dp.param_groups] == [5e-5] and slow.opt_d.param_groups[0]["lr"] == slow.cfg.lr_d
    assert "D_projected 0.0002 -> 5e-05" in capsys.readouterr().out
