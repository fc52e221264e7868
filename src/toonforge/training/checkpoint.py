"""Training checkpoints: atomic writes, safe loading, architecture checks, RNG states.

A checkpoint is a plain dict of tensors, numbers, strings, lists and dicts, so it loads with
``torch.load(path, map_location="cpu", weights_only=True)`` and nothing else:

``{"format", "kind", "task", "step", "elapsed",
"data": {"epoch", "batch", "batch_size", "world_size"},
"modules", "optimizers", "ema": {name: state_dict}, "rng": [per-rank states], "extra",
"loop", "torch"}``
"""

from __future__ import annotations

import os
import random
import zipfile
from collections.abc import Collection
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import CheckpointError, first_line
from ..io.checkpoints import check_fit, torch_load
from ..io.files import atomic_output
from .distributed import DistContext, all_gather_objects, unwrap

__all__ = [
    "FORMAT",
    "KIND",
    "capture_rng",
    "check_fit",
    "load_checkpoint",
    "load_states",
    "replicas_in_sync",
    "resolve_resume",
    "restore_rng",
    "save_atomic",
    "seed_all",
    "seed_rank",
    "training_state",
]

FORMAT = 1
KIND = "toonforge-training-checkpoint"
_REQUIRED = ("task", "step", "modules", "optimizers", "ema", "rng", "data", "extra")


def save_atomic(obj: dict[str, Any], path: Path) -> None:
    """``torch.save`` through :func:`toonforge.io.files.atomic_output` (a temporary file in the
    same folder, fsynced, renamed over ``path``), then fsync the folder.

    A reader (or a crash) never sees a half-written ``path``.
    """
    path = Path(path)
    with atomic_output(path) as tmp:
        torch.save(obj, tmp)
    try:  # make the rename itself durable (POSIX); harmless where unsupported
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Load a training checkpoint with ``weights_only=True`` onto the CPU and check its layout."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        ckpt = torch_load(path)
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile, ValueError) as err:
        raise CheckpointError(f"cannot read checkpoint {path}: {first_line(err)[:200]}") from None
    if not isinstance(ckpt, dict) or ckpt.get("kind") != KIND:
        raise CheckpointError(f"{path} is not a toonforge training checkpoint")
    if ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{path} has checkpoint format {ckpt.get('format')}, expected {FORMAT}")
    missing = [k for k in _REQUIRED if k not in ckpt]
    if missing:
        raise CheckpointError(f"{path} lacks {', '.join(missing)}")
    return ckpt


def training_state(
    *,
    task: str,
    step: int,
    elapsed: float,
    data: dict[str, int],
    modules: dict[str, nn.Module],
    optimizers: dict[str, torch.optim.Optimizer],
    ema: dict[str, dict[str, Any]],
    rng: list[dict[str, Any]],
    extra: dict[str, Any],
    loop: dict[str, Any],
) -> dict[str, Any]:
    """Assemble the checkpoint dict described in the module docstring (tensors not copied)."""
    return {
        "format": FORMAT,
        "kind": KIND,
        "task": task,
        "step": step,
        "elapsed": elapsed,
        "data": data,
        "modules": {n: m.state_dict() for n, m in modules.items()},
        "optimizers": {n: o.state_dict() for n, o in optimizers.items()},
        "ema": ema,
        "rng": rng,
        "extra": extra,
        "loop": loop,
        "torch": str(torch.__version__),
    }


def resolve_resume(target: Path) -> tuple[Path, Path | None]:
    """Map ``resume=`` to (checkpoint file, run folder to continue in, or None).

    A run folder means ``<run>/checkpoints/latest.pt``; a ``.pt`` file inside
    ``<run>/checkpoints/`` continues ``<run>``; any other ``.pt`` file starts a new run folder.
    """
    target = Path(target)
    if target.is_dir():
        return target / "checkpoints" / "latest.pt", target
    if target.parent.name == "checkpoints":
        return target, target.parent.parent
    return target, None


def load_states(
    ckpt: dict[str, Any],
    modules: dict[str, nn.Module],
    optimizers: dict[str, torch.optim.Optimizer],
    added: Collection[str] = (),
) -> list[str]:
    """Load module and optimizer states after checking that names, keys and shapes fit.

    Names in ``added`` may be missing from the checkpoint (parts a run adds to an older one's):
    they keep their current state. Returns those that were missing, sorted."""
    fresh: set[str] = set()
    for kind, own in (("modules", modules), ("optimizers", optimizers)):
        lacking = set(own) - set(ckpt[kind])
        if set(ckpt[kind]) - set(own) or lacking - set(added):
            raise CheckpointError(
                f"checkpoint {kind} {sorted(ckpt[kind])} do not match the task's {sorted(own)}"
            )
        fresh |= lacking
    for name, module in modules.items():
        if name in fresh:
            continue
        check_fit(module, ckpt["modules"][name], f"module '{name}'")
        module.load_state_dict(ckpt["modules"][name])
    for name, opt in optimizers.items():
        if name in fresh:
            continue
        try:
            opt.load_state_dict(ckpt["optimizers"][name])
        except (ValueError, KeyError, RuntimeError) as err:
            raise CheckpointError(
                f"optimizer '{name}' does not fit the checkpoint: {first_line(err)[:200]}"
            ) from None
    return sorted(fresh)


def capture_rng() -> dict[str, Any]:
    """This process's RNG states (torch CPU, CUDA if initialised, python, numpy) as safe types."""
    version, internal, gauss = random.getstate()
    _, keys, pos, has_gauss, cached = np.random.get_state()
    cuda: list[torch.Tensor] = []
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        cuda = list(torch.cuda.get_rng_state_all())
    return {
        "torch": torch.get_rng_state(),
        "cuda": cuda,
        "python": [version, list(internal), gauss],
        "numpy": {
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached": float(cached),
        },
    }


def restore_rng(state: dict[str, Any]) -> None:
    """Inverse of :func:`capture_rng`; CUDA states are restored when the device count matches."""
    torch.set_rng_state(state["torch"])
    cuda = state.get("cuda") or []
    if cuda and torch.cuda.is_available() and torch.cuda.device_count() == len(cuda):
        torch.cuda.set_rng_state_all(cuda)
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    npst = state["numpy"]
    keys = npst["keys"].numpy().astype(np.uint32)
    np.random.set_state(("MT19937", keys, npst["pos"], npst["has_gauss"], npst["cached"]))


def seed_all(seed: int) -> None:
    """Seed torch (CPU and CUDA), python ``random`` and numpy's global generator."""
    torch.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)


def seed_rank(seed: int, rank: int, saved: list[dict[str, Any]] | None) -> None:
    """Seed this rank for training (``seed + rank``), or restore its RNG from a checkpoint's
    per-rank list; ranks beyond that list (a larger world on resume) get fresh seeds."""
    if saved is not None and rank < len(saved):
        restore_rng(saved[rank])
    else:
        seed_all(seed + rank)


@torch.no_grad()
def replicas_in_sync(modules: dict[str, nn.Module], ctx: DistContext, rtol: float = 1e-4) -> bool:
    """Cheap check that all ranks hold the same weights (compares per-module checksums)."""
    if ctx.world_size == 1:
        return True
    sums = [
        float(sum((p.detach().double().abs().sum() for p in unwrap(m).parameters()), 0.0))
        for m in modules.values()
    ]
    every = all_gather_objects(sums, ctx)
    return all(
        abs(a - b) <= rtol * max(abs(a), abs(b), 1e-12)
        for other in every[1:]
        for a, b in zip(every[0], other)
    )
