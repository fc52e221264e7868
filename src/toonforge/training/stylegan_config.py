"""Configuration and data of the StyleGAN2 trainer (:mod:`.stylegan_task`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..errors import InputError
from .paired_data import to_tensor
from .unpaired_data import DomainFolder

__all__ = ["ARCH_FIELDS", "StyleFolder", "StyleGANTrainConfig"]

ARCH_FIELDS = ("size", "style_dim", "n_mlp", "channel_multiplier", "channel_max")


@dataclass
class StyleGANTrainConfig:
    """Hyper-parameters of one StyleGAN2 run (recorded in the run folder's ``config.json``).

    data: folder of style images. size .. channel_max: the architecture (replaced by the
    source's when ``resume_from`` is set; ``source_d`` names a separate source discriminator;
    ``allow_pickle`` lets either be an NVlabs ``.pkl``). xflip: add mirrored copies. lr, betas: Adam (before
    the lazy-regularisation correction). lr_mapping: effective mapping-network rate relative to
    the synthesis layers. lr_resolution: {resolution: multiplier} for G's synthesis layers
    (0 freezes them). r1: R1 gamma, applied every ``d_reg_every`` steps. pl_weight: path-length
    weight, every ``g_reg_every`` steps on ``batch / pl_batch_shrink`` samples, running mean
    decay ``pl_decay``. mixing: style-mixing probability. freeze_d: number of frozen D blocks
    from the input. ada: adapt p (else p stays ``ada_p``); ada_target, ada_interval (steps
    between updates), ada_kimg (speed). fd_samples (0: no evaluation), fd_batch, eval_seed:
    the FD-MNv2 evaluation. patience: evaluations without improvement before stopping (0: never).
    """

    data: str
    size: int = 256
    style_dim: int = 512
    n_mlp: int = 8
    channel_multiplier: int = 2
    channel_max: int = 512
    resume_from: str | None = None
    source_d: str | None = None
    allow_pickle: bool = False
    xflip: bool = True
    lr: float = 0.002
    betas: tuple[float, float] = (0.0, 0.99)
    lr_mapping: float = 0.01
    lr_resolution: dict[int, float] = field(default_factory=dict)
    r1: float = 10.0
    d_reg_every: int = 16
    pl_weight: float = 2.0
    g_reg_every: int = 4
    pl_batch_shrink: int = 2
    pl_decay: float = 0.01
    mixing: float = 0.9
    freeze_d: int = 0
    ada: bool = True
    ada_target: float = 0.6
    ada_p: float = 0.0
    ada_interval: int = 4
    ada_kimg: float = 500.0
    fd_samples: int = 200
    fd_batch: int = 16
    patience: int = 0
    eval_seed: int = 1234

    def validate(self) -> None:
        """Raise :class:`InputError` for an unusable setting."""
        if self.source_d and not self.resume_from:
            raise InputError("--source-d needs --resume-from (the generator it belongs with)")
        if self.size < 8 or self.size & (self.size - 1):
            raise InputError(f"--size must be a power of two >= 8, got {self.size}")
        checks = {
            "lr": self.lr > 0, "lr_mapping": self.lr_mapping >= 0, "r1": self.r1 >= 0,
            "pl_weight": self.pl_weight >= 0, "mixing": 0 <= self.mixing <= 1, "freeze_d": self.freeze_d >= 0,
            "d_reg_every": self.d_reg_every >= 1, "g_reg_every": self.g_reg_every >= 1,
            "pl_batch_shrink": self.pl_batch_shrink >= 1, "ada_interval": self.ada_interval >= 1,
            "fd_samples": self.fd_samples == 0 or self.fd_samples >= 2, "patience": self.patience >= 0,
            "fd_batch": self.fd_batch >= 1,
        }
        for name, ok in checks.items():
            if not ok:
                raise InputError(f"{name} has an unusable value: {getattr(self, name)!r}")
        for res, mult in self.lr_resolution.items():
            if int(res) < 4 or int(res) > self.size or int(res) & (int(res) - 1) or mult < 0:
                raise InputError(f"per-resolution lr scale {res}: {mult} is not a resolution 4..{self.size} "
                                 "with a multiplier >= 0")


class StyleFolder(DomainFolder, torch.utils.data.Dataset):
    """The style images of a folder: items (3, size, size) float32 in [-1, 1], centre-cropped to
    a square and resized (decoded once and cached, see :class:`DomainFolder`). With ``xflip``
    the set is doubled by mirrored copies (indices >= n)."""

    def __init__(self, folder: str | Path, size: int, xflip: bool = True) -> None:
        super().__init__(folder, size, label="style")
        self.xflip = bool(xflip)

    def __len__(self) -> int:
        return len(self.files) * (2 if self.xflip else 1)

    def __getitem__(self, index: int) -> torch.Tensor:
        n = len(self.files)
        img = self.image(index % n)
        return to_tensor(img[:, ::-1] if index >= n else img)
