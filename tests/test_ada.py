"""Adaptive discriminator augmentation: identity at p=0, gradients, the p controller, shared use."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from toonforge.errors import InputError
from toonforge.training import stylegan_task
from toonforge.training.ada import ADA_OPS, AdaController, augment


def _images(n: int = 4, size: int = 16) -> torch.Tensor:
    torch.manual_seed(0)
    return torch.rand(n, 3, size, size) * 2 - 1


def test_p_zero_is_the_identity():
    x = _images()
    assert augment(x, 0.0) is x
    assert torch.equal(augment(x, 0.0, ops=("xflip", "cutout")), x)


@pytest.mark.parametrize("op", ADA_OPS)
def test_each_op_changes_images_and_passes_gradients(op):
    x = _images().requires_grad_(True)
    y = augment(x, 1.0, ops=(op,), generator=torch.Generator().manual_seed(1))
    assert y.shape == x.shape and torch.isfinite(y).all()
    assert not torch.allclose(y, x)
    weights = torch.randn_like(y)
    (grad,) = torch.autograd.grad((y * weights).sum(), x)
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0


def test_all_ops_at_p1_are_seeded_and_differentiable():
    x = _images().requires_grad_(True)
    a = augment(x, 1.0, generator=torch.Generator().manual_seed(3))
    b = augment(x, 1.0, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and not torch.allclose(a, x)
    a.square().mean().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_per_sample_probability():
    x = _images(n=400, size=8)
    y = augment(x, 0.3, ops=("xflip",), generator=torch.Generator().manual_seed(0))
    changed = (y != x).flatten(1).any(1).float().mean().item()
    assert 0.2 < changed < 0.4
    unchanged = ~(y != x).flatten(1).any(1)
    assert torch.equal(y[unchanged], x[unchanged])


def test_bad_arguments():
    with pytest.raises(InputError, match="unknown augmentation"):
        augment(_images(), 0.5, ops=("warp",))
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        augment(_images(), 1.5)
    with pytest.raises(InputError, match="square"):
        augment(torch.zeros(2, 3, 8, 16), 1.0, ops=("rot90",))
    with pytest.raises(InputError):
        AdaController(target=1.5)


def test_controller_rises_falls_and_clips():
    ada = AdaController(target=0.6, ada_kimg=0.01)  # 10 images take p from 0 to 1
    ada.observe(torch.full((4, 1), 3.0))  # D sure of every real: r_t = 1 > 0.6
    assert ada.update() == pytest.approx(0.4)
    assert ada.last_rt == 1.0
    ada.observe(torch.tensor([[1.0], [1.0], [1.0], [-1.0]]))  # r_t = 0.5 < 0.6
    assert ada.update() == pytest.approx(0.0)
    ada.observe(torch.tensor([[-1.0], [-2.0]]))
    assert ada.update() == 0.0  # clipped at 0
    for _ in range(5):
        ada.observe(torch.ones(4, 1))
        ada.update()
    assert ada.p == 1.0  # clipped at 1
    assert ada.update() == 1.0  # nothing observed: unchanged
    state = ada.state_dict()
    other = AdaController()
    other.load_state_dict(state)
    assert other.p == 1.0


def test_paper_speed():
    ada = AdaController(ada_kimg=500)
    ada.observe(torch.ones(64, 1))  # e.g. batch 16 over an interval of 4 steps
    assert ada.update() == pytest.approx(64 / 500_000)


def test_reals_and_fakes_go_through_the_same_augmentation(tmp_path, monkeypatch, small_model_cpu):
    rng = np.random.default_rng(0)
    for i in range(4):
        Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(tmp_path / f"{i}.png")
    cfg = stylegan_task.StyleGANTrainConfig(data=str(tmp_path), size=32, style_dim=16, n_mlp=2, channel_max=8,
                                            ada_p=0.7, fd_samples=0)
    task = stylegan_task.StyleGANTask(cfg)
    torch.manual_seed(0)
    task.build(torch.device("cpu"))
    calls = []

    def spy(images, p, *args, **kw):
        calls.append((tuple(images.shape), p))
        return augment(images, p, *args, **kw)

    monkeypatch.setattr(stylegan_task, "augment", spy)
    real = torch.stack([task.dataset()[i] for i in range(4)])
    phases = {ph.name: ph for ph in task.phases()}
    phases["D"].fn(real, 1)
    assert calls == [((4, 3, 32, 32), 0.7), ((4, 3, 32, 32), 0.7)]  # reals, then fakes
    calls.clear()
    phases["G"].fn(real, 1)
    phases["Dreg"].fn(real, 0)
    assert [p for _, p in calls] == [0.7, 0.7]
