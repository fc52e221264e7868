"""Adaptive discriminator augmentation (ADA, Karras et al. 2020) in plain, differentiable PyTorch.

:func:`augment` transforms a batch of images; every op is applied to each sample independently
with probability ``p`` and every op lets gradients through to the input, so the same function
serves the discriminator's reals, the generator's fakes (whose gradient must reach G) and the
R1 term. :class:`AdaController` tunes ``p`` from the overfitting heuristic
``r_t = E[sign(D(real))]``: above the target (0.6) D is too sure of the reals and ``p`` rises,
below it ``p`` falls, by at most ``images seen / (ada_kimg * 1000)`` per update, so ``p`` can
cross 0 -> 1 in ``ada_kimg`` thousand images (500 in the paper; pass a smaller value for short
runs on a few hundred images).

Ops, in the order applied (geometric ops use reflection at the borders, as NVlabs does):
``xflip``; ``rot90`` (k * 90 degrees, k uniform in 1..3); ``translate`` (integer shift of up to
``translate`` x size pixels per axis); ``rotate`` (angle uniform in +-``rotate_deg``, bilinear);
``brightness`` (+ N(0, 0.2)); ``contrast`` (x lognormal, std 0.5 ln 2); ``saturation`` (around
the grey axis, x lognormal, std ln 2); ``cutout`` (a zeroed square of half the size).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..errors import InputError

__all__ = ["ADA_OPS", "AdaController", "AugmentSettings", "augment"]

ADA_OPS: tuple[str, ...] = (
    "xflip", "rot90", "translate", "rotate", "brightness", "contrast", "saturation", "cutout",
)


def _coin(n: int, p: float, gen: torch.Generator | None, device: torch.device) -> torch.Tensor:
    """(n,) bool: which samples get an op."""
    return (torch.rand(n, generator=gen) < p).to(device)


def _rand(shape: tuple[int, ...], gen: torch.Generator | None, device: torch.device) -> torch.Tensor:
    return torch.rand(shape, generator=gen).to(device)


def _randn(shape: tuple[int, ...], gen: torch.Generator | None, device: torch.device) -> torch.Tensor:
    return torch.randn(shape, generator=gen).to(device)


def _pick(mask: torch.Tensor, new: torch.Tensor, old: torch.Tensor) -> torch.Tensor:
    """``new`` where ``mask`` (N,) is set, ``old`` elsewhere (exactly)."""
    return torch.where(mask.view(-1, 1, 1, 1), new, old)


def _translate(x: torch.Tensor, frac: float, gen: torch.Generator | None) -> torch.Tensor:
    n, _, h, w = x.shape
    m = max(1, min(int(round(frac * min(h, w))), min(h, w) - 1))
    shift = (_rand((n, 2), gen, x.device) * (2 * m + 1)).floor().long() - m  # in -m..m
    padded = F.pad(x, (m, m, m, m), mode="reflect")
    rows = torch.arange(h, device=x.device) + m - shift[:, 1:2]  # (N, H)
    cols = torch.arange(w, device=x.device) + m - shift[:, 0:1]  # (N, W)
    idx = torch.arange(n, device=x.device).view(n, 1, 1)
    return padded[idx, :, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)  # (N, C, H, W)


def _rotate(x: torch.Tensor, max_deg: float, gen: torch.Generator | None) -> torch.Tensor:
    n = x.shape[0]
    angle = (2 * _rand((n,), gen, x.device) - 1) * math.radians(max_deg)
    cos, sin, zero = angle.cos(), angle.sin(), torch.zeros_like(angle)
    theta = torch.stack([torch.stack([cos, -sin, zero], 1), torch.stack([sin, cos, zero], 1)], 1)
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def _cutout(x: torch.Tensor, frac: float, gen: torch.Generator | None) -> torch.Tensor:
    n, _, h, w = x.shape
    centre = _rand((n, 2), gen, x.device)  # (cx, cy) in [0, 1)
    ys = (torch.arange(h, device=x.device, dtype=x.dtype) + 0.5) / h
    xs = (torch.arange(w, device=x.device, dtype=x.dtype) + 0.5) / w
    out_y = (ys[None, :] - centre[:, 1:2]).abs() >= frac / 2  # (N, H)
    out_x = (xs[None, :] - centre[:, 0:1]).abs() >= frac / 2  # (N, W)
    keep = (out_y[:, :, None] | out_x[:, None, :]).to(x.dtype)  # (N, H, W)
    return x * keep[:, None]


@dataclass
class AugmentSettings:
    """Strengths of the ops (the NVlabs defaults where they exist)."""

    translate: float = 0.125
    rotate_deg: float = 15.0
    brightness_std: float = 0.2
    contrast_std: float = 0.5
    saturation_std: float = 1.0
    cutout: float = 0.5


def augment(
    images: torch.Tensor, p: float, ops: Iterable[str] = ADA_OPS, *,
    settings: AugmentSettings | None = None, generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Augment a batch: images (N, C, H, W) float, about [-1, 1] -> (N, C, H, W), same dtype.

    Each op in ``ops`` (a subset of :data:`ADA_OPS`) is applied to each sample with probability
    ``p`` in [0, 1]; ``p = 0`` returns the input unchanged (the same tensor). Random numbers come
    from ``generator`` (CPU) or torch's global generator, so a seeded run repeats exactly. All
    ops are differentiable with respect to ``images``. ``rot90`` needs square images.
    """
    ops = tuple(ops)
    unknown = sorted(set(ops) - set(ADA_OPS))
    if unknown:
        raise InputError(f"unknown augmentation op(s) {', '.join(unknown)}; choose from {', '.join(ADA_OPS)}")
    if not 0.0 <= p <= 1.0:
        raise InputError(f"augmentation probability must be in [0, 1], got {p}")
    if images.ndim != 4:
        raise InputError(f"augment expects (N, C, H, W) images, got shape {tuple(images.shape)}")
    if p == 0.0 or not ops:
        return images
    s = settings or AugmentSettings()
    x, n, dev, gen = images, images.shape[0], images.device, generator
    if "xflip" in ops:
        x = _pick(_coin(n, p, gen, dev), x.flip(3), x)
    if "rot90" in ops:
        if x.shape[2] != x.shape[3]:
            raise InputError(f"rot90 needs square images, got {x.shape[2]}x{x.shape[3]}")
        k = (_rand((n,), gen, dev) * 3).floor().long() + 1
        k = torch.where(_coin(n, p, gen, dev), k, torch.zeros_like(k))
        for turns in (1, 2, 3):
            x = _pick(k == turns, torch.rot90(x, turns, dims=(2, 3)), x)
    if "translate" in ops:
        x = _pick(_coin(n, p, gen, dev), _translate(x, s.translate, gen), x)
    if "rotate" in ops:
        x = _pick(_coin(n, p, gen, dev), _rotate(x, s.rotate_deg, gen), x)
    if "brightness" in ops:
        b = _randn((n, 1, 1, 1), gen, dev).to(x.dtype) * s.brightness_std
        x = _pick(_coin(n, p, gen, dev), x + b, x)
    if "contrast" in ops:
        c = torch.exp2(_randn((n, 1, 1, 1), gen, dev).to(x.dtype) * s.contrast_std)
        x = _pick(_coin(n, p, gen, dev), x * c, x)
    if "saturation" in ops:
        sat = torch.exp2(_randn((n, 1, 1, 1), gen, dev).to(x.dtype) * s.saturation_std)
        grey = x.mean(dim=1, keepdim=True)
        x = _pick(_coin(n, p, gen, dev), grey + (x - grey) * sat, x)
    if "cutout" in ops:
        x = _pick(_coin(n, p, gen, dev), _cutout(x, s.cutout, gen), x)
    return x


class AdaController:
    """Tunes the augmentation probability ``p`` from D's outputs on (augmented) reals.

    Call :meth:`observe` with every batch of real logits and :meth:`update` every few steps
    (NVlabs: 4); ``update`` sets ``p += sign(r_t - target) * seen / (ada_kimg * 1000)``,
    clipped to [0, 1], where ``r_t`` is the mean sign of the logits observed since the last
    update and ``seen`` their count (summed over processes under torch.distributed).
    """

    def __init__(self, target: float = 0.6, ada_kimg: float = 500.0, p: float = 0.0) -> None:
        if not 0.0 < target < 1.0:
            raise InputError(f"ADA target must be in (0, 1), got {target}")
        if ada_kimg <= 0:
            raise InputError(f"ADA speed (kimg for p to go from 0 to 1) must be > 0, got {ada_kimg}")
        if not 0.0 <= p <= 1.0:
            raise InputError(f"initial ADA p must be in [0, 1], got {p}")
        self.target, self.ada_kimg, self.p = float(target), float(ada_kimg), float(p)
        self.sign_sum, self.count = 0.0, 0
        self.last_rt: float | None = None

    def observe(self, real_logits: torch.Tensor) -> None:
        """Accumulate ``sign(D(real))``; real_logits: (N, 1) or (N,), any values."""
        logits = real_logits.detach().float().flatten()
        self.sign_sum += float(torch.sign(logits).sum())
        self.count += int(logits.numel())

    def update(self) -> float:
        """Adjust ``p`` from what was observed since the last update; returns the new ``p``."""
        total = torch.tensor([self.sign_sum, float(self.count)], dtype=torch.float64)
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            backend_dev = "cuda" if torch.distributed.get_backend() == "nccl" else "cpu"
            total = total.to(backend_dev)
            torch.distributed.all_reduce(total)
        sign_sum, count = float(total[0]), float(total[1])
        self.sign_sum, self.count = 0.0, 0
        if count == 0:
            return self.p
        rt = sign_sum / count
        self.last_rt = rt
        step = math.copysign(count / (self.ada_kimg * 1000.0), rt - self.target) if rt != self.target else 0.0
        self.p = min(1.0, max(0.0, self.p + step))
        return self.p

    def state_dict(self) -> dict:
        """Plain numbers: ``p`` and the accumulators (for exact resume)."""
        return {"p": self.p, "sign_sum": self.sign_sum, "count": self.count}

    def load_state_dict(self, state: dict) -> None:
        """Restore what :meth:`state_dict` returned."""
        self.p = float(state["p"])
        self.sign_sum, self.count = float(state["sign_sum"]), int(state["count"])
