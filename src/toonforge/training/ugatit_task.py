"""Stage-2 trainer: U-GAT-IT photo (A) <-> style (B), with optional background keeping.

Per step, phase ``D`` then phase ``G`` (the published recipe, LSGAN throughout):
* D: for each domain a global and a local discriminator, each judged on its patch logits
  and on its CAM logits: ``w_adv * sum(mse(real, 1) + mse(fake, 0))``;
* G: adversarial (same four terms per domain, target 1), cycle L1 (``w_cycle``), identity L1
  (``identity_weight``), CAM (``w_cam``), then ``rho`` of every ILN/AdaLIN clipped to [0, 1].

``identity_weight`` trades likeness for stylization: the identity term asks G_AB to leave
images that are already stylized unchanged (and G_BA photos), which keeps colours, layout and
identity close to the input; the published 10 keeps faces recognisable, lower values (e.g. 1-5)
give bolder style changes, higher values give outputs closer to the photo.

Background variants (``background``): ``"region"`` adds ``w_background`` x the L1 between the
translated photo and the photo outside the face/hair mask (masks from ``masks``, see
:mod:`toonforge.face.region_mask`); ``"mask"`` gives both generators a mask branch (output =
m * stylized + (1 - m) * input) and adds ``w_mask`` x ``mask_regularizer`` (the background
term is added too when ``masks`` is given).

The EMA of G_AB is validated on held-out photos against held-out style images (FD); every
checkpoint writes ``generator.safetensors`` (EMA G_AB) and, when FD improved, the best-FD EMA
weights to ``best_generator.safetensors``.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from ..errors import InputError
from ..losses.adversarial import d_loss, g_loss
from ..losses.translation import background_loss, cam_loss, cycle_loss, identity_loss, mask_regularizer
from ..metrics.features import FeatureExtractor
from ..models.factory import create_model
from ..models.ugatit import clip_rho, min_input_size
from .augment import AugmentConfig
from .stage2_common import SnapshotHooks, Stage2Snapshots, build_validator, train_folders, unpaired_split
from .task import Phase, TrainingTask

__all__ = ["BACKGROUNDS", "UGATITTask", "UGATITTrainConfig"]

BACKGROUNDS = ("none", "region", "mask")


@dataclass
class UGATITTrainConfig:
    """Hyper-parameters of one U-GAT-IT run (recorded in the run folder).

    ``light`` defaults to True here (10.6M-parameter generator; the full one has 279M, most of
    them in the MLP over the flattened feature map). The learning-rate decay of the
    paper (linear over the second half) is the loop's ``LoopConfig.lr_decay_steps``.
    """

    photos: str
    styles: str
    size: int = 256
    light: bool = True
    base_channels: int = 64
    n_blocks: int = 4
    d_channels: int = 64
    d_global_layers: int = 7
    d_local_layers: int = 5
    lr: float = 1e-4
    betas: tuple[float, float] = (0.5, 0.999)
    weight_decay: float = 1e-4
    w_adv: float = 1.0
    w_cycle: float = 10.0
    identity_weight: float = 10.0
    w_cam: float = 1000.0
    background: str = "none"
    masks: str | None = None
    w_background: float = 10.0
    w_mask: float = 1.0
    mask_tv: float = 1.0
    val_fraction: float = 0.05
    val_max: int = 64
    augment: AugmentConfig | None = field(default_factory=lambda: AugmentConfig(rotate_deg=0.0, color_jitter=0.0))
    seed: int = 0

    def validate(self) -> None:
        """Raise :class:`InputError` for an unusable setting."""
        if self.background not in BACKGROUNDS:
            raise InputError(f"background must be one of {', '.join(BACKGROUNDS)}, got {self.background!r}")
        if self.background == "region" and not self.masks:
            raise InputError("background 'region' needs a mask folder (masks=...)")
        if self.size % 4:
            raise InputError(f"size must be a multiple of 4, got {self.size}")
        for layers in (self.d_global_layers, self.d_local_layers):
            if layers < 3:
                raise InputError(f"a discriminator needs at least 3 layers, got {layers}")
            if self.size < min_input_size(layers):
                raise InputError(f"a {layers}-layer discriminator needs size >= {min_input_size(layers)} "
                                 f"(got {self.size}); use fewer layers or a larger size")
        if min(self.base_channels, self.n_blocks, self.d_channels) < 1 or self.lr <= 0:
            raise InputError("base_channels, n_blocks, d_channels and lr must be positive")


class UGATITTask(SnapshotHooks, TrainingTask):
    """Plugs two U-GAT-IT generators and four discriminators into the shared training loop.

    extractor: the FD feature extractor for validation (default: ImageNet MobileNetV2).
    """

    name = "ugatit"

    def __init__(self, cfg: UGATITTrainConfig, extractor: FeatureExtractor | None = None) -> None:
        cfg.validate()
        self.cfg = cfg
        self.split = unpaired_split(cfg.photos, cfg.styles, cfg.val_fraction, cfg.seed)
        self._extractor = extractor
        self.snapshots = Stage2Snapshots(None)
        self.ema: dict[str, nn.Module] = {}

    # ---- TrainingTask API -------------------------------------------------------------------
    def build(self, device: torch.device) -> None:
        c = self.cfg
        self.device = device
        g_args = dict(base_channels=c.base_channels, n_blocks=c.n_blocks, img_size=c.size,
                      light=c.light, mask_branch=c.background == "mask")
        self.G_AB = create_model("ugatit_generator", **g_args).to(device)
        self.G_BA = create_model("ugatit_generator", **g_args).to(device)
        self.D = {f"D_{kind}{dom}": create_model("ugatit_discriminator", base_channels=c.d_channels,
                                                 n_layers=layers).to(device)
                  for dom in "AB" for kind, layers in (("G", c.d_global_layers), ("L", c.d_local_layers))}
        opt = dict(lr=c.lr, betas=c.betas, weight_decay=c.weight_decay)
        self.opt_g = torch.optim.Adam(itertools.chain(self.G_AB.parameters(), self.G_BA.parameters()), **opt)
        self.opt_d = torch.optim.Adam(itertools.chain(*(d.parameters() for d in self.D.values())), **opt)
        self.snapshots = Stage2Snapshots(build_validator(c.photos, c.styles, self.split, c.size, max_images=c.val_max,
                                                         extractor=self._extractor, device=device))

    def modules(self) -> dict[str, nn.Module]:
        return {"G_AB": self.G_AB, "G_BA": self.G_BA, **self.D}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"G": self.opt_g, "D": self.opt_d}

    def dataset(self) -> torch.utils.data.Dataset:
        return train_folders(self.cfg, self.split, mask_dir=self.cfg.masks)

    def phases(self) -> list[Phase]:
        return [Phase("D", self._d_step), Phase("G", self._g_step)]

    def ema_modules(self) -> list[str]:
        return ["G_AB"]

    def config(self) -> dict:
        return asdict(self.cfg) | {"images": self.split.counts()}

    # ---- phases ------------------------------------------------------------------------------
    def _d_terms(self, dom: str, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        total = real.new_zeros(())
        for kind in "GL":
            d = self.D[f"D_{kind}{dom}"]
            (r, r_cam, _), (f, f_cam, _) = d(real), d(fake)
            total = total + d_loss(r, f, "lsgan") + d_loss(r_cam, f_cam, "lsgan")
        return total

    def _g_adv(self, dom: str, fake: torch.Tensor) -> torch.Tensor:
        total = fake.new_zeros(())
        for kind in "GL":
            logit, cam, _ = self.D[f"D_{kind}{dom}"](fake)
            total = total + g_loss(logit, "lsgan") + g_loss(cam, "lsgan")
        return total

    def _d_step(self, batch: dict[str, torch.Tensor], step: int) -> dict[str, float]:
        real_a, real_b = batch["photo"], batch["style"]
        with torch.no_grad():
            fake_b, fake_a = self.G_AB(real_a).out, self.G_BA(real_b).out
        self.opt_d.zero_grad(set_to_none=True)
        loss_a, loss_b = self._d_terms("A", real_a, fake_a), self._d_terms("B", real_b, fake_b)
        loss = self.cfg.w_adv * (loss_a + loss_b)
        loss.backward()
        self.opt_d.step()
        return {"loss/D_A": float(loss_a.detach()), "loss/D_B": float(loss_b.detach()),
                "loss/D": float(loss.detach())}

    def _g_step(self, batch: dict[str, torch.Tensor], step: int) -> dict[str, float]:
        c = self.cfg
        real_a, real_b = batch["photo"], batch["style"]
        self.opt_g.zero_grad(set_to_none=True)
        ab, ba = self.G_AB(real_a), self.G_BA(real_b)
        aba, bab = self.G_BA(ab.out).out, self.G_AB(ba.out).out
        aa, bb = self.G_BA(real_a), self.G_AB(real_b)
        terms = {
            "adv": self._g_adv("A", ba.out) + self._g_adv("B", ab.out),
            "cycle": cycle_loss(aba, real_a) + cycle_loss(bab, real_b),
            # On the image before compositing: with a mask branch, a zero mask would satisfy
            # identity (and cycle) trivially and the mask collapses (docs/stage2.md).
            "identity": identity_loss(aa.stylized, real_a) + identity_loss(bb.stylized, real_b),
            "cam": cam_loss(ba.cam_logit, aa.cam_logit) + cam_loss(ab.cam_logit, bb.cam_logit),
        }
        weights = {"adv": c.w_adv, "cycle": c.w_cycle, "identity": c.identity_weight, "cam": c.w_cam}
        if "mask" in batch and c.w_background > 0:
            terms["background"] = background_loss(ab.out, real_a, batch["mask"])
            weights["background"] = c.w_background
        if ab.mask is not None and ba.mask is not None:
            terms["mask"] = mask_regularizer(ab.mask, c.mask_tv) + mask_regularizer(ba.mask, c.mask_tv)
            weights["mask"] = c.w_mask
        total = sum(weights[k] * v for k, v in terms.items())
        params = [*self.G_AB.parameters(), *self.G_BA.parameters()]
        total.backward(inputs=params)  # gradients only into the generators
        self.opt_g.step()
        clip_rho(self.G_AB)
        clip_rho(self.G_BA)
        logs = {f"loss/G_{k}": float(v.detach()) for k, v in terms.items()}
        if ab.mask is not None:
            logs["mask/mean_AB"] = float(ab.mask.detach().mean())
        return logs | {"loss/G": float(total.detach())}

    # ---- validation and export ----------------------------------------------------------------
    def generator(self) -> nn.Module:
        """The EMA G_AB (the shipped weights), or the raw one before the loop set the EMA."""
        return self.ema.get("G_AB", self.G_AB)

    def output_info(self) -> dict:
        c = self.cfg
        return {"task": self.name, "size": c.size, "background": c.background, "light": c.light,
                "output": "GeneratorOutput.out (call .translate(x) for the image)"}
