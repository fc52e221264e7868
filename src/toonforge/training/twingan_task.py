"""Stage-2 trainer: TwinGAN (``reference/003_*``) on unpaired photos and style images.

One :class:`~toonforge.models.twingan.TwinGAN` (shared encoder, generator with per-domain
norms) and two patch discriminators (photo, style). Per step, phase ``G`` then ``D``:

* G: ``lambda_rec`` x (L1 of photo->photo and style->style reconstructions)
  + ``lambda_rec_gan`` x (GAN of both reconstructions) + ``lambda_gan`` x (GAN of photo->style)
  + ``lambda_cycle`` x (L1 of photo->style->photo), see :mod:`toonforge.losses.twingan`;
* D: the photo D on real photos vs reconstructions, the style D on real style images vs
  style reconstructions and photo->style translations.

Progressive growing (``grow_steps`` > 0): training starts at ``start_res`` and doubles the
resolution every ``grow_steps`` steps, fading each new block in over the first half of its
stage (PGGAN); the images are area-downsampled to the current resolution. ``grow_steps`` = 0
trains at the full size from the first step.

The EMA of the TwinGAN is validated (photo -> style FD on held-out images, the stage-2
validator) and written to ``generator.safetensors`` / ``best_generator.safetensors`` at each
checkpoint: the whole model (encoder and both domains), whose default forward is photo -> style,
so ``toonforge translate`` and ``toonforge twin-search`` both read it.

Single process only: the phases call the TwinGAN's ``encode``/``decode`` directly, which a
DDP wrapper would not synchronise, so the task takes no wrappers and under torchrun each rank
would train on its own gradients (the loop warns when the ranks drift apart).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InputError
from ..losses.adversarial import KINDS
from ..losses.twingan import twin_discriminator_terms, twin_generator_terms
from ..metrics.features import FeatureExtractor
from ..models.factory import create_model
from ..models.twingan import NORM_KINDS, resolutions
from .augment import AugmentConfig
from .stage2_common import SnapshotHooks, Stage2Snapshots, build_validator, train_folders, unpaired_split
from .task import Phase, TrainingTask

__all__ = ["TwinGANConfig", "TwinGANTask", "resolution_at"]

PHOTO, STYLE = 0, 1


@dataclass
class TwinGANConfig:
    """Hyper-parameters of one TwinGAN run (recorded in the run folder)."""

    photos: str
    styles: str
    size: int = 256
    base_channels: int = 32
    max_channels: int = 256
    embed_dim: int = 256
    norm: str = "instance"
    skip_max_res: int | None = None  # None: size // 2
    d_channels: int = 64
    d_layers: int = 3
    gan_loss: str = "lsgan"
    lr: float = 2e-4
    norm_lr_mult: float = 1.0  # learning-rate multiplier of the per-domain norm parameters (the switch)
    betas: tuple[float, float] = (0.5, 0.999)
    lambda_rec: float = 10.0
    lambda_rec_gan: float = 1.0
    lambda_gan: float = 1.0
    lambda_cycle: float = 10.0
    grow_steps: int = 0
    start_res: int = 8
    val_fraction: float = 0.05
    val_max: int = 64
    augment: AugmentConfig | None = field(default_factory=lambda: AugmentConfig(rotate_deg=0.0, color_jitter=0.0))
    seed: int = 0

    def validate(self) -> None:
        """Raise :class:`InputError` for an unusable setting."""
        if self.size < 8 or self.size > 1024 or self.size & (self.size - 1):
            raise InputError(f"--size must be a power of two in 8..1024 for TwinGAN, got {self.size}")
        if self.norm not in NORM_KINDS:
            raise InputError(f"--norm must be one of {', '.join(NORM_KINDS)}, got {self.norm!r}")
        if self.gan_loss not in KINDS:
            raise InputError(f"--gan-loss must be one of {', '.join(KINDS)}, got {self.gan_loss!r}")
        if self.d_layers < 1 or 2**self.d_layers > self.size:
            raise InputError(f"--d-layers must be in 1..{self.size.bit_length() - 1} at --size {self.size}")
        if min(self.base_channels, self.max_channels, self.embed_dim, self.d_channels) < 1 or self.lr <= 0 \
                or self.norm_lr_mult <= 0:
            raise InputError("channels, --embed-dim, --lr and --norm-lr-mult must be positive")
        if min(self.lambda_rec, self.lambda_rec_gan, self.lambda_gan, self.lambda_cycle) < 0:
            raise InputError("the --lambda-* weights must be >= 0")
        if self.grow_steps < 0:
            raise InputError(f"--grow-steps must be >= 0, got {self.grow_steps}")
        if self.grow_steps and (self.start_res not in resolutions(self.size) or self.start_res < 2**self.d_layers):
            raise InputError(f"--start-res must be a power of two in {2**self.d_layers}..{self.size} "
                             f"(the discriminator needs >= 2**d_layers), got {self.start_res}")


def resolution_at(step: int, cfg: TwinGANConfig) -> tuple[int, float]:
    """(resolution, fade-in alpha) of 0-based ``step``: the full size and 1 without growing;
    with ``grow_steps`` G, stage k (steps k*G .. (k+1)*G - 1) runs at ``start_res * 2**k``, its
    new block fading in linearly over the stage's first G/2 steps (the first stage needs none)."""
    if cfg.grow_steps <= 0:
        return cfg.size, 1.0
    stages = [r for r in resolutions(cfg.size) if r >= cfg.start_res]
    k = min(step // cfg.grow_steps, len(stages) - 1)
    into = step - k * cfg.grow_steps
    alpha = 1.0 if k == 0 else min(1.0, (into + 1) / max(1.0, cfg.grow_steps / 2))
    return stages[k], alpha


class TwinGANTask(SnapshotHooks, TrainingTask):
    """TwinGAN in the shared loop; ``extractor``: the validation FD features (default MNv2)."""

    name = "twingan"

    def __init__(self, cfg: TwinGANConfig, extractor: FeatureExtractor | None = None) -> None:
        cfg.validate()
        self.cfg = cfg
        self.split = unpaired_split(cfg.photos, cfg.styles, cfg.val_fraction, cfg.seed)
        self._extractor = extractor
        self.snapshots = Stage2Snapshots(None)
        self.ema: dict[str, nn.Module] = {}
        self._fakes: dict[str, torch.Tensor] | None = None

    def build(self, device: torch.device) -> None:
        c = self.cfg
        self.device = device
        self.twin = create_model("twingan", size=c.size, base_channels=c.base_channels, max_channels=c.max_channels,
                                 embed_dim=c.embed_dim, norm=c.norm, skip_max_res=c.skip_max_res).to(device)
        d_args = {"base_channels": c.d_channels, "n_layers": c.d_layers}
        self.D_photo = create_model("patch_discriminator", **d_args).to(device)
        self.D_style = create_model("patch_discriminator", **d_args).to(device)
        norm_ids = {id(p) for m in self.twin.domain_norms() for p in m.parameters()}
        groups = [{"params": [p for p in self.twin.parameters() if id(p) not in norm_ids], "lr": c.lr},
                  {"params": [p for p in self.twin.parameters() if id(p) in norm_ids], "lr": c.lr * c.norm_lr_mult}]
        self.opt_g = torch.optim.Adam(groups, lr=c.lr, betas=c.betas)
        self.opt_d = torch.optim.Adam([*self.D_photo.parameters(), *self.D_style.parameters()], lr=c.lr,
                                      betas=c.betas)
        self.snapshots = Stage2Snapshots(build_validator(c.photos, c.styles, self.split, c.size, max_images=c.val_max,
                                                         extractor=self._extractor, device=device))

    def modules(self) -> dict[str, nn.Module]:
        return {"twin": self.twin, "D_photo": self.D_photo, "D_style": self.D_style}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"G": self.opt_g, "D": self.opt_d}

    def dataset(self) -> torch.utils.data.Dataset:
        return train_folders(self.cfg, self.split)

    def phases(self) -> list[Phase]:
        return [Phase("G", self._g_step), Phase("D", self._d_step)]

    def ema_modules(self) -> list[str]:
        return ["twin"]

    def config(self) -> dict:
        return asdict(self.cfg) | {"images": self.split.counts()}

    # ---- phases ------------------------------------------------------------------------------
    def _inputs(self, batch: dict[str, torch.Tensor], step: int) -> tuple[torch.Tensor, torch.Tensor, int, float]:
        res, alpha = resolution_at(step, self.cfg)
        photo, style = batch["photo"], batch["style"]
        if res != photo.shape[-1]:
            photo, style = F.interpolate(photo, size=res, mode="area"), F.interpolate(style, size=res, mode="area")
        return photo, style, res, alpha

    def _g_step(self, batch: dict[str, torch.Tensor], step: int) -> dict[str, float]:
        c = self.cfg
        photo, style, res, alpha = self._inputs(batch, step)
        self.opt_g.zero_grad(set_to_none=True)
        z_p, skips_p = self.twin.encode(photo, res, alpha)
        z_s, skips_s = self.twin.encode(style, res, alpha)
        photo_rec = self.twin.decode(z_p, skips_p, PHOTO, res, alpha)
        style_rec = self.twin.decode(z_s, skips_s, STYLE, res, alpha)
        translated = self.twin.decode(z_p, skips_p, STYLE, res, alpha)
        photo_cycle = self.twin(translated, PHOTO, res, alpha)
        terms = twin_generator_terms(photo, style, photo_rec, style_rec, photo_cycle, self.D_photo(photo_rec),
                                     self.D_style(style_rec), self.D_style(translated), c.gan_loss)
        weights = {"rec_photo": c.lambda_rec, "rec_style": c.lambda_rec, "gan_rec_photo": c.lambda_rec_gan,
                   "gan_rec_style": c.lambda_rec_gan, "gan_translate": c.lambda_gan, "cycle": c.lambda_cycle}
        total = sum(weights[k] * v for k, v in terms.items())
        total.backward(inputs=list(self.twin.parameters()))  # the Ds step in their own phase
        self.opt_g.step()
        self._fakes = {"photo_rec": photo_rec.detach(), "style_rec": style_rec.detach(),
                       "translated": translated.detach(), "photo": photo, "style": style}
        logs = {f"loss/G_{k}": float(v.detach()) for k, v in terms.items()}
        return logs | {"loss/G": float(total.detach()), "grow/res": float(res), "grow/alpha": alpha}

    def _d_step(self, batch: dict[str, torch.Tensor], step: int) -> dict[str, float]:
        f, self._fakes = self._fakes, None
        if f is None:  # the G phase did not run this step
            photo, style, res, alpha = self._inputs(batch, step)
            with torch.no_grad():
                z_p, s_p = self.twin.encode(photo, res, alpha)
                z_s, s_s = self.twin.encode(style, res, alpha)
                f = {"photo_rec": self.twin.decode(z_p, s_p, PHOTO, res, alpha),
                     "style_rec": self.twin.decode(z_s, s_s, STYLE, res, alpha),
                     "translated": self.twin.decode(z_p, s_p, STYLE, res, alpha), "photo": photo, "style": style}
        d_p, d_s = self.D_photo, self.D_style
        self.opt_d.zero_grad(set_to_none=True)
        terms = twin_discriminator_terms(d_p(f["photo"]), d_s(f["style"]), d_p(f["photo_rec"]), d_s(f["style_rec"]),
                                         d_s(f["translated"]), self.cfg.gan_loss)
        (terms["D_photo"] + terms["D_style"]).backward()
        self.opt_d.step()
        return {f"loss/{k}": float(v.detach()) for k, v in terms.items()}

    # ---- validation and export ----------------------------------------------------------------
    def generator(self) -> nn.Module:
        """The EMA TwinGAN (the shipped weights), or the raw one before the loop set the EMA."""
        return self.ema.get("twin", self.twin)

    def output_info(self) -> dict:
        c = self.cfg
        return {"task": self.name, "size": c.size, "domains": ["photo", "style"],
                "output": "forward(x) = photo -> style; forward(x, 'photo') = photo reconstruction; "
                          "embed(x) = the shared embedding"}
