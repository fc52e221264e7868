"""Adversarial losses: hinge, least-squares (LSGAN) and non-saturating (softplus) GAN.

Every function takes raw discriminator logits: one tensor of any shape (e.g. PatchGAN maps
(N, 1, h, w)) or a list/tuple of such tensors (a multi-scale discriminator). For a list, the
per-scale losses are averaged, so the loss weight does not depend on the number of scales.

Per-kind definitions (means over all logits of a scale):

=============  ==========================  ==========================  ==================
kind           D on real                    D on fake                   G on fake
=============  ==========================  ==========================  ==================
hinge          mean(relu(1 - r))            mean(relu(1 + f))           -mean(f)
lsgan          mean((r - 1)^2)              mean(f^2)                   mean((f - 1)^2)
nonsaturating  mean(softplus(-r))           mean(softplus(f))           mean(softplus(-f))
=============  ==========================  ==========================  ==================
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from toonforge.errors import InputError

Logits = torch.Tensor | Sequence[torch.Tensor]
KINDS: tuple[str, ...] = ("hinge", "lsgan", "nonsaturating")

_Term = Callable[[torch.Tensor], torch.Tensor]

_REAL: dict[str, _Term] = {
    "hinge": lambda r: F.relu(1.0 - r).mean(),
    "lsgan": lambda r: (r - 1.0).pow(2).mean(),
    "nonsaturating": lambda r: F.softplus(-r).mean(),
}
_FAKE: dict[str, _Term] = {
    "hinge": lambda f: F.relu(1.0 + f).mean(),
    "lsgan": lambda f: f.pow(2).mean(),
    "nonsaturating": lambda f: F.softplus(f).mean(),
}
_GEN: dict[str, _Term] = {
    "hinge": lambda f: -f.mean(),
    "lsgan": lambda f: (f - 1.0).pow(2).mean(),
    "nonsaturating": lambda f: F.softplus(-f).mean(),
}


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise InputError(f"unknown GAN loss kind {kind!r}; choose one of {', '.join(KINDS)}")


def _as_list(logits: Logits) -> list[torch.Tensor]:
    if isinstance(logits, torch.Tensor):
        return [logits]
    items = list(logits)
    if not items or not all(isinstance(t, torch.Tensor) for t in items):
        raise InputError("logits must be a tensor or a non-empty list of tensors")
    return items


def _scale_mean(term: _Term, logits: Logits) -> torch.Tensor:
    items = _as_list(logits)
    return torch.stack([term(t.float()) for t in items]).mean()


def d_real_loss(real_logits: Logits, kind: str = "hinge") -> torch.Tensor:
    """Discriminator loss term for real samples. Logits of any shape; returns a scalar."""
    _check_kind(kind)
    return _scale_mean(_REAL[kind], real_logits)


def d_fake_loss(fake_logits: Logits, kind: str = "hinge") -> torch.Tensor:
    """Discriminator loss term for fake samples. Logits of any shape; returns a scalar."""
    _check_kind(kind)
    return _scale_mean(_FAKE[kind], fake_logits)


def d_loss(real_logits: Logits, fake_logits: Logits, kind: str = "hinge") -> torch.Tensor:
    """Full discriminator loss ``d_real_loss(real) + d_fake_loss(fake)``; a scalar tensor.

    real_logits / fake_logits: tensors (or lists of per-scale tensors) of unbounded logits;
    pass ``D(fake.detach())`` so the generator is not updated by this loss.
    """
    return d_real_loss(real_logits, kind) + d_fake_loss(fake_logits, kind)


def g_loss(fake_logits: Logits, kind: str = "hinge") -> torch.Tensor:
    """Generator adversarial loss on ``D(fake)`` logits (tensor or list); a scalar tensor."""
    _check_kind(kind)
    return _scale_mean(_GEN[kind], fake_logits)
