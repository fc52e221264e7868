"""The contract between a model family's trainer and the shared training loop.

A trainer subclasses :class:`TrainingTask`: it builds its modules and optimizers, names its
dataset, and splits one training step into :class:`Phase` objects (for a GAN: ``D``, ``G`` and
lazily scheduled regularisers such as ``Dreg`` every 16 steps). The loop in
:mod:`toonforge.training.loop` owns everything else: seeding, data loading, DDP wrapping, EMA,
logging, checkpoints and resume.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import InputError

__all__ = ["Phase", "TrainingTask"]


@dataclass
class Phase:
    """One part of a training step.

    ``fn(batch, step)`` receives the batch already on the training device (the same batch for
    every phase of a step) and the 0-based step index. It does its own ``zero_grad`` /
    ``backward`` / ``optimizer.step()`` and returns plain-float scalars to log; every returned
    value must be finite or the loop stops with an error. The phase runs when
    ``step % every == 0`` (``every=16`` gives NVlabs-style lazy regularisation, including
    step 0).
    """

    name: str
    fn: Callable[[Any, int], dict[str, float]]
    every: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.every, int) or self.every < 1:
            raise InputError(f"phase '{self.name}': every must be an integer >= 1, got {self.every}")

    def due(self, step: int) -> bool:
        """Whether this phase runs at the 0-based ``step``."""
        return step % self.every == 0


class TrainingTask(ABC):
    """A model family's training recipe, run by :func:`toonforge.training.loop.train`.

    Call order used by the loop: ``build`` (under ``torch.manual_seed(cfg.seed)`` on every
    process, so all ranks start from identical weights), ``modules``, ``optimizers``,
    ``dataset``, ``phases``; then, on resume, the module and optimizer states are loaded;
    then ``wrap_modules`` (only with more than one process), ``set_ema`` and
    ``load_extra_state`` (only on resume).
    """

    name: str
    """Short identifier: names the run folder and must match on resume."""

    resuming: bool = False
    """Set by the loop before ``build``: True when a checkpoint's states will replace the built
    ones, so ``build`` can skip work that only chooses initial weights (e.g. reading a start)."""

    @abstractmethod
    def build(self, device: torch.device) -> None:
        """Create the modules and optimizers on ``device``."""

    @abstractmethod
    def modules(self) -> dict[str, nn.Module]:
        """Trainable modules by name, unwrapped (these are checkpointed)."""

    @abstractmethod
    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Optimizers by name (their states are checkpointed)."""

    def added_on_resume(self) -> set[str]:
        """Module and optimizer names a checkpoint may lack (a part this run adds to an older
        run's, e.g. an extra discriminator): they keep their fresh initialisation on resume."""
        return set()

    @abstractmethod
    def dataset(self) -> torch.utils.data.Dataset:
        """A map-style dataset with ``__len__``; the loop batches, shuffles and shards it."""

    @abstractmethod
    def phases(self) -> list[Phase]:
        """The phases of one step, in the order they run."""

    def ema_modules(self) -> list[str]:
        """Names (keys of :meth:`modules`) of modules to keep an exponential moving average of."""
        return []

    def wrap_modules(self, wrapped: dict[str, nn.Module]) -> None:
        """Receive the modules to call in phases when training on several processes.

        ``wrapped`` has the same keys as :meth:`modules`; modules with trainable parameters
        are ``DistributedDataParallel`` wrappers, the others are passed through. A task that
        ignores this trains each rank on its own gradients (the loop warns when it sees the
        ranks' weights drift apart). Only called when the world size is above 1, and then
        called once more when training ends, with the plain modules (the wrappers die with the
        process group).
        """

    def set_ema(self, ema: dict[str, nn.Module]) -> None:
        """Receive the EMA copies (eval mode, no grad), e.g. for sampling and validation."""

    def config(self) -> dict:
        """JSON-able hyper-parameters, recorded in the run folder's ``config.json``."""
        return {}

    def evaluate(self, step: int) -> dict[str, float]:
        """Validation metrics; called on rank 0 every ``eval_every`` completed steps."""
        return {}

    def should_stop(self) -> bool:
        """Whether to end training now (e.g. early stopping); asked on every rank after each
        evaluation, and a True on any rank (rank 0 evaluates) stops all with a checkpoint."""
        return False

    def on_checkpoint(self, run_dir: Path, step: int) -> None:
        """Hook after each checkpoint is written (rank 0 only), e.g. to export samples."""

    def extra_state(self) -> dict:
        """Additional state to checkpoint (tensors, numbers, strings, lists, dicts only)."""
        return {}

    def load_extra_state(self, state: dict) -> None:
        """Restore what :meth:`extra_state` returned."""
