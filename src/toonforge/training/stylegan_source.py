"""Where a StyleGAN2 run starts from: the source generator and discriminator of ``--resume-from``,
and, for a rosinality ``train.py`` checkpoint, its Adam states and ADA probability.

Sources: a generator ``.safetensors`` (``save_generator``, or ``toonforge convert``), a rosinality
``.pt`` with ``g_ema``/``g``/``d`` (and ``g_optim``/``d_optim``/``ada_aug_p`` when it was saved by
``train.py``), or an NVlabs ``.pkl`` snapshot (``allow_pickle`` only). The discriminator comes from
the same file when it holds one, or from ``d_path`` (e.g. the ``D.safetensors`` written by
``toonforge convert``).

rosinality's optimizers index their states by position in ``generator.parameters()``; the
checkpoint's own ``g``/``d`` state dicts give those positions names (their keys in module order,
buffers left out), so each state is matched to the parameter of the same name here and kept only
when its tensors have that parameter's shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import CheckpointError
from ..models.stylegan2 import Discriminator, Generator, load_discriminator, load_generator
from ..models.stylegan2.checkpoint import read_checkpoint

__all__ = ["StyleGANSource", "adopt_adam_states", "load_source"]


@dataclass
class StyleGANSource:
    """The networks of a source file, plus what a rosinality train.py checkpoint carried."""

    G: Generator
    D: Discriminator | None
    optim_states: dict[str, tuple[list[str], dict[str, Any]]] = field(default_factory=dict)
    ada_p: float | None = None


def _param_order(state: Any, params: set[str]) -> list[str]:
    """Names of the parameters of a state dict, in its (module) order; buffers left out."""
    return [k for k in state if k in params] if isinstance(state, dict) else []


def load_source(path: str | Path, *, allow_pickle: bool = False, d_path: str | Path | None = None) -> StyleGANSource:
    """Read the source networks of a run (see the module docstring)."""
    path = Path(path)
    content, _ = read_checkpoint(path, allow_pickle=allow_pickle)
    has_d = isinstance(content.get("d"), dict)
    key = "g" if not isinstance(content.get("g_ema"), dict) and isinstance(content.get("g"), dict) else "g_ema"
    G = load_generator(path, key=key, allow_pickle=allow_pickle)
    D = None
    if d_path is not None:
        D = load_discriminator(d_path, allow_pickle=allow_pickle)
    elif has_d:
        D = load_discriminator(path, allow_pickle=allow_pickle)
    if D is not None and D.size != G.size:
        raise CheckpointError(f"{path.name}: discriminator {D.size} px, generator {G.size} px")
    src = StyleGANSource(G, D)
    for name, opt_key, net_key, net in (("G", "g_optim", "g", G), ("D", "d_optim", "d", D)):
        opt = content.get(opt_key)
        if net is None or not isinstance(opt, dict) or not isinstance(opt.get("state"), dict):
            continue
        order = _param_order(content.get(net_key), {n for n, _ in net.named_parameters()})
        src.optim_states[name] = (order, opt)
    p = content.get("ada_aug_p")
    if isinstance(p, (int, float, torch.Tensor)) and "g_optim" in content:
        src.ada_p = min(1.0, max(0.0, float(p)))
    return src


def adopt_adam_states(opt: torch.optim.Optimizer, net: nn.Module, order: list[str], saved: dict[str, Any]
                      ) -> tuple[int, int]:
    """Copy the Adam moments of ``saved`` (a rosinality optimizer state dict whose index ``i`` is
    parameter ``order[i]``) into ``opt`` for the parameters of ``net`` it trains, where shapes fit.

    Returns (states adopted, parameters ``opt`` trains). Nothing is adopted when ``order`` does not
    cover the saved indices (a checkpoint of another architecture).
    """
    named = dict(net.named_parameters())
    trained = {id(p) for g in opt.param_groups for p in g["params"]}
    states = saved["state"]
    total = sum(1 for p in named.values() if id(p) in trained)
    if not order or any(not isinstance(i, int) or i >= len(order) for i in states):
        return 0, total
    adopted = 0
    for i, st in states.items():
        p = named.get(order[i])
        if p is None or id(p) not in trained or not isinstance(st, dict):
            continue
        avg, avg_sq = st.get("exp_avg"), st.get("exp_avg_sq")
        if not (isinstance(avg, torch.Tensor) and isinstance(avg_sq, torch.Tensor)):
            continue
        if avg.shape != p.shape or avg_sq.shape != p.shape:
            continue
        step = st.get("step", 0)
        step = step.detach().float().reshape(()) if isinstance(step, torch.Tensor) else torch.tensor(float(step))
        opt.state[p] = {"step": step.clone(), "exp_avg": avg.detach().to(p).clone(),
                        "exp_avg_sq": avg_sq.detach().to(p).clone()}
        adopted += 1
    return adopted, total
