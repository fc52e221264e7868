"""Exponential moving average of a module's weights (the "G_ema" of GAN training)."""

from __future__ import annotations

import copy
import logging
from typing import Any

import torch
from torch import nn

from ..errors import InputError
from .checkpoint import check_fit
from .distributed import unwrap

__all__ = ["EMA", "make_emas"]
log = logging.getLogger(__name__)


class EMA:
    """Keeps ``self.module``, a frozen copy of a module whose parameters track
    ``ema = decay * ema + (1 - decay) * current`` and whose buffers (e.g. BatchNorm statistics)
    are copied as they are.

    The copy is in eval mode with ``requires_grad=False`` and lives on the source's device.
    ``module`` may be a ``DistributedDataParallel`` wrapper: its ``.module`` is used.
    """

    def __init__(self, module: nn.Module) -> None:
        self.module: nn.Module = copy.deepcopy(unwrap(module)).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, module: nn.Module, decay: float) -> None:
        """Move the average toward ``module``'s weights; ``decay=0`` copies them exactly."""
        if not 0.0 <= decay <= 1.0:
            raise InputError(f"EMA decay must be in [0, 1], got {decay}")
        src = unwrap(module)
        mine, theirs = list(self.module.parameters()), list(src.parameters())
        if len(mine) != len(theirs):
            raise InputError("EMA copy and module have a different number of parameters")
        for e, p in zip(mine, theirs):
            if decay == 0.0 or not e.is_floating_point():
                e.copy_(p)
            elif decay < 1.0:
                e.lerp_(p.detach().to(e.dtype), 1.0 - decay)
        for e, b in zip(self.module.buffers(), src.buffers()):
            e.copy_(b)

    def state_dict(self) -> dict[str, Any]:
        """The averaged module's state dict."""
        return self.module.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Load a state dict saved by :meth:`state_dict` (strict)."""
        self.module.load_state_dict(state)


def make_emas(
    modules: dict[str, nn.Module], names: list[str], saved: dict[str, Any] | None
) -> dict[str, EMA]:
    """EMA copies of ``modules[name]`` for each name, loaded from ``saved`` (a checkpoint's
    ``"ema"`` dict) when resuming; a name missing there starts from the current weights."""
    emas: dict[str, EMA] = {}
    for name in names:
        if name not in modules:
            raise InputError(f"EMA module '{name}' is not one of {sorted(modules)}")
        ema = EMA(modules[name])
        state = saved.get(name) if saved is not None else None
        if state is not None:
            check_fit(ema.module, state, f"EMA of module '{name}'")
            ema.load_state_dict(state)
        elif saved is not None:
            log.warning("checkpoint has no EMA of '%s': starting it from the weights", name)
        emas[name] = ema
    return emas
