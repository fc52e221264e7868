"""What every stage-2 (unpaired photo -> style) trainer shares: the held-out split, the
validator, and the generator files written next to each checkpoint.

A trainer typically does::

    split = unpaired_split(photos, styles, val_fraction, seed)
    validator = build_validator(photos, styles, split, size, max_images=64, extractor=extractor)
    self.snapshots = Stage2Snapshots(validator)
    ...
    def evaluate(self, step):             return self.snapshots.evaluate(ema_G, step)
    def on_checkpoint(self, run_dir, step): self.snapshots.write(run_dir, ema_G, step, info)
    def extra_state(self):                return {"snapshots": self.snapshots.state_dict()}
    def load_extra_state(self, state):    self.snapshots.load_state_dict(state["snapshots"])
"""

from __future__ import annotations

import copy
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import InputError
from ..metrics.features import FeatureExtractor
from ..models.generator_file import GENERATOR_FILE, save_generator_file
from .translation_eval import TranslationValidator
from .unpaired_data import DomainFolder, UnpairedFolders, split_domain

__all__ = ["BEST_GENERATOR_FILE", "SnapshotHooks", "Stage2Snapshots", "UnpairedSplit", "build_validator",
           "unpaired_split"]

BEST_GENERATOR_FILE = "best_generator.safetensors"
PathLike = str | os.PathLike[str]


@dataclass
class UnpairedSplit:
    """File stems of the training and held-out images of each domain."""

    photo_train: list[str]
    photo_val: list[str]
    style_train: list[str]
    style_val: list[str]

    def counts(self) -> dict[str, int]:
        """Sizes, for a trainer's recorded config."""
        return {k: len(v) for k, v in vars(self).items()}


def unpaired_split(photos: PathLike, styles: PathLike, val_fraction: float, seed: int = 0) -> UnpairedSplit:
    """Deterministic train/validation split of both folders (``split_domain`` on each).

    Raises InputError when either folder has no training image left after the split.
    """
    photo_train, photo_val = split_domain(photos, val_fraction, seed)
    style_train, style_val = split_domain(styles, val_fraction, seed)
    if not photo_train or not style_train:
        raise InputError("no training photos or style images left after the validation split")
    return UnpairedSplit(photo_train, photo_val, style_train, style_val)


def train_folders(cfg: Any, split: UnpairedSplit, **extra: Any) -> UnpairedFolders:
    """The training side of ``split`` as the unpaired dataset every stage-2 task draws from: the
    config's ``photos``, ``styles``, ``size``, ``augment`` and ``seed``; ``extra`` goes to
    :class:`~.unpaired_data.UnpairedFolders` (e.g. ``mask_dir``)."""
    return UnpairedFolders(cfg.photos, cfg.styles, cfg.size, cfg.augment, cfg.seed,
                           photo_names=split.photo_train, style_names=split.style_train, **extra)


def build_validator(photos: PathLike, styles: PathLike, split: UnpairedSplit, size: int, *,
                    max_images: int = 64, extractor: FeatureExtractor | None = None,
                    device: str | torch.device = "cpu") -> TranslationValidator | None:
    """A :class:`TranslationValidator` on at most ``max_images`` held-out photos and style images
    (size x size), or None when no photo is held out or ``max_images`` is 0."""
    photo_names, style_names = split.photo_val[:max_images], split.style_val[:max_images]
    if not photo_names or max_images <= 0:
        return None
    photo_set = DomainFolder(photos, size, photo_names, "photo")
    style_imgs = []
    if style_names:
        style_set = DomainFolder(styles, size, style_names, "style")
        style_imgs = [style_set.image(i) for i in range(len(style_set))]
    return TranslationValidator([photo_set.image(i) for i in range(len(photo_set))], style_imgs,
                                extractor=extractor, device=device)


class Stage2Snapshots:
    """Validates a generator and writes its files into the run folder.

    ``evaluate(net, step)`` runs the validator (if any) on ``net`` in eval mode and, when the
    FD improves, keeps a CPU copy of ``net``. ``write(run_dir, net, step, info)`` (call it from
    ``on_checkpoint``) writes ``run_dir/generator.safetensors`` from ``net`` and, when a new best
    copy is waiting, ``run_dir/best_generator.safetensors`` from it. ``net`` must be a
    registered model (``model_name`` and ``config``), usually the EMA generator; its input and
    output are (N, 3, S, S) in [-1, 1].
    """

    def __init__(self, validator: TranslationValidator | None) -> None:
        self.validator = validator
        self._best_net: nn.Module | None = None

    @property
    def best_fd(self) -> float:
        """The lowest FD seen so far (inf before the first validation)."""
        return self.validator.best_fd if self.validator is not None else math.inf

    @property
    def best_step(self) -> int:
        """The step of :attr:`best_fd` (-1 before the first validation)."""
        return self.validator.best_step if self.validator is not None else -1

    @torch.no_grad()
    def evaluate(self, net: nn.Module, step: int) -> dict[str, float]:
        """The validator's metrics for ``net`` at ``step`` ({} without a validator)."""
        if self.validator is None:
            return {}
        was_training = net.training
        net.eval()
        try:
            stats = self.validator(net, step)
        finally:
            net.train(was_training)
        if self.validator.improved_at(step):
            self._best_net = copy.deepcopy(net).cpu().eval()
        return stats

    def write(self, run_dir: PathLike, net: nn.Module, step: int, info: dict[str, Any]) -> list[Path]:
        """Write the generator file(s) of ``step``; returns the paths written.

        ``info`` goes into the files' metadata with ``step`` set (and ``val_fd`` for the best).
        """
        run_dir = Path(run_dir)
        written = [save_generator_file(run_dir / GENERATOR_FILE, net, {**info, "step": int(step)})]
        if self._best_net is not None:
            best_info = {**info, "step": int(self.best_step), "val_fd": float(self.best_fd)}
            written.append(save_generator_file(run_dir / BEST_GENERATOR_FILE, self._best_net, best_info))
            self._best_net = None
        return written

    def state_dict(self) -> dict[str, float | int]:
        """The best FD and its step, for the checkpoint's extra state."""
        return {"best_fd": float(self.best_fd), "best_step": int(self.best_step)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` (the best snapshot itself is already on disk)."""
        if self.validator is not None and state:
            self.validator.best_fd = float(state.get("best_fd", math.inf))
            self.validator.best_step = int(state.get("best_step", -1))


class SnapshotHooks:
    """The ``TrainingTask`` hooks every stage-2 trainer shares, through ``self.snapshots``.

    A task mixing this in sets ``self.snapshots`` (a :class:`Stage2Snapshots`) and defines
    ``generator()`` (the module to validate and ship, usually the EMA copy) and
    ``output_info()`` (the JSON-able ``info`` recorded in its generator files).
    """

    snapshots: Stage2Snapshots

    def set_ema(self, ema: dict[str, nn.Module]) -> None:  # the loop's EMA copies, by module name
        self.ema = ema

    def generator(self) -> nn.Module:
        raise NotImplementedError

    def output_info(self) -> dict[str, Any]:
        raise NotImplementedError

    def evaluate(self, step: int) -> dict[str, float]:
        return self.snapshots.evaluate(self.generator(), step)

    def on_checkpoint(self, run_dir: Path, step: int) -> None:
        self.snapshots.write(run_dir, self.generator(), step, self.output_info())

    def extra_state(self) -> dict:
        return {"snapshots": self.snapshots.state_dict()}

    def load_extra_state(self, state: dict) -> None:
        self.snapshots.load_state_dict(state.get("snapshots", {}))

