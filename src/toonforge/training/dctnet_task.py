"""Stage-2 trainer: DCT-Net's texture translation (Men et al., SIGGRAPH 2022), unpaired.

Network: the White-box Cartoonization U-Net (``texture_unet``), photo -> style in [-1, 1].
Losses of the generator (LSGAN throughout):
* surface: a 3-channel patch discriminator judges the guided-filter smoothing of outputs
  against that of style images (``losses.texture.surface_representation``);
* texture: a 1-channel patch discriminator judges random colour-shifted grey versions
  (``losses.texture.texture_representation``);
* content: perceptual L1 on ImageNet MobileNetV2 features between output and input photo;
* total variation of the output;
* optionally (``w_projected``, not in the paper), a whole-image GAN term from a projected
  discriminator (``ProjectedDiscriminator``: patch heads on frozen ImageNet MobileNetV2 maps at
  strides 4-32). The two patch discriminators above judge a grey texture and a blurred colour
  copy, and on the anime set both sat at chance for hundreds of steps; pretrained features judge
  the full image (palette, shading, eyes and line art together) and give a signal from the start;
* optionally (``w_colour``, not in the paper), L1 between the 8x-pooled YCbCr chroma of output and
  photo: keeps the photo's colours while brightness and lines stay free; with ``colour_relative``
  the chroma is divided by the room above the luma (``losses.texture.relative_chroma_lowpass``),
  so brightened skin keeps its hue at a saturation fading with the brightening;
* optionally (``w_structure``, after White-box Cartoonization's structure term, not in DCT-Net):
  pixel L1 between the output and its own SLIC superpixel flattening with dark lines kept
  (``losses.structure.flat_fill_target``, no gradient through the target), which asks for flat
  colour regions between the ink. White-box compares the two in VGG feature space; in feature
  space (MobileNetV2 here) the cheapest way to match a flattened copy is a blank image, and our
  teacher went blank-white within 70 steps at weight 0.5. In pixel space the target keeps each
  segment's mean, so the term evens out a region without moving its average colour.

Default weights (surface 1, texture 1, content 2, TV 0.1). The paper (and White-box
Cartoonization, whose generator losses it reuses) weigh a VGG content loss by ~200 against
adversarial terms of order 1, because its VGG term is a mean over deep, small-valued
activations. Our content term sums the mean L1 of three MobileNetV2 maps (strides 4/8/16):
measured on real selfies at 128 px it is ~1.1 for a photo against its guided-filter smoothing
or an 8-level posterisation (a stylisation-sized change) and ~2.6 for a photo against an
unrelated anime face, i.e. already of order 1; weight 2 makes a stylisation-sized drift cost
about two saturated LSGAN terms, which keeps identity while leaving room to restyle. TV is a
mean of squared neighbour differences (~0.02 for photos, ~1.3 for uniform noise), so 0.1 only
bites on high-frequency artefacts. These are starting points, not tuned values.

Geometry expansion: flip, scale (0.8, 1.2), rotation +-30 deg, shift 5%, drawn independently
for photos and style images (``UnpairedFolders``); no colour jitter. Content calibration: with
``style_generator`` (a stage-1 StyleGAN2 file), ``calibration_samples`` images are sampled once
(resumable, ``stylegan.sampling.sample_dataset``) into ``calibration_dir`` and used as extra
style images; held-out style images for validation come from the real style folder only.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..errors import InputError
from ..losses.adversarial import d_loss, g_loss
from ..losses.pixel import total_variation
from ..losses.structure import flat_fill_target
from ..losses.texture import colour_loss, surface_representation, texture_representation
from ..metrics.features import FeatureExtractor
from ..models.factory import create_model
from .ada import augment
from .augment import AugmentConfig
from .stage2_common import SnapshotHooks, Stage2Snapshots, build_validator, train_folders, unpaired_split
from .task import Phase, TrainingTask
from .unpaired_data import DomainFolder

__all__ = ["DCTNetConfig", "DCTNetTask", "default_calibration_dir", "geometry_expansion", "sample_calibration"]


def geometry_expansion() -> AugmentConfig:
    """DCT-Net's geometry expansion: flip, scale 0.8-1.2, rotate +-30 deg, shift 5%, no colour."""
    return AugmentConfig(flip=True, scale=(0.8, 1.2), rotate_deg=30.0, translate=0.05, color_jitter=0.0)


@dataclass
class DCTNetConfig:
    """Hyper-parameters of one DCT-Net texture-translation run (recorded in the run folder)."""

    photos: str
    styles: str
    size: int = 256
    channels: int = 32  # texture_unet width
    num_blocks: int = 4
    d_channels: int = 32
    d_layers: int = 3
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.99)
    w_surface: float = 1.0
    w_texture: float = 1.0
    w_content: float = 2.0
    w_tv: float = 0.1
    w_colour: float = 0.0  # low-frequency chroma kept from the photo (losses.texture.colour_loss); 0: off
    colour_relative: bool = False  # colour term on chroma / (room above luma): brightening fades colour
    w_projected: float = 0.0  # whole-image GAN on frozen MobileNetV2 features; 0: off
    projected_channels: int = 64  # width of the projected discriminator's heads
    projected_augment: float = 1.0  # DiffAugment (translate + cutout) probability on its inputs
    lr_projected: float | None = None  # its learning rate; None: lr_d
    w_structure: float = 0.0  # pull towards the output's own superpixel flattening; 0: off
    structure_cell: int = 16  # SLIC starting block (px): (size / cell)^2 segments
    structure_ink: float | None = 0.2  # luma drop below the fill that marks a kept line; None: flatten all
    gan_start: int = 0  # steps of content-only warm-up (White-box pretrains this way)
    surface_radius: int = 5
    surface_eps: float = 0.2
    style_generator: str | None = None
    allow_pickle: bool = False  # the style generator may be an NVlabs .pkl (restricted unpickler)
    calibration_samples: int = 1000
    calibration_truncation: float = 0.7
    calibration_seed: int = 0
    calibration_dir: str | None = None
    val_fraction: float = 0.05
    val_max: int = 64
    augment: AugmentConfig = field(default_factory=geometry_expansion)
    seed: int = 0


def default_calibration_dir(runs_root: str | Path, generator: str | Path, truncation: float, seed: int,
                            size: int) -> Path:
    """``runs_root/calibration/<generator file digest>-t<truncation>-s<seed>-<size>px``."""
    digest = hashlib.sha256(Path(generator).read_bytes()).hexdigest()[:12]
    return Path(runs_root) / "calibration" / f"{digest}-t{truncation:g}-s{seed}-{size}px"


def sample_calibration(cfg: DCTNetConfig, device: str | torch.device = "cpu", progress: bool = True) -> list[str]:
    """Sample the calibration style images of ``cfg`` (skipping those already there); returns
    their file stems in ``cfg.calibration_dir``."""
    from ..stylegan.sampling import sample_dataset

    if cfg.style_generator is None or cfg.calibration_dir is None:
        raise InputError("content calibration needs both a style generator and a calibration folder")
    if not Path(cfg.style_generator).is_file():
        raise InputError(f"style generator not found: {cfg.style_generator}")
    if cfg.calibration_samples < 1:
        raise InputError(f"--calibration-samples must be >= 1, got {cfg.calibration_samples}")
    rep = sample_dataset(cfg.style_generator, cfg.calibration_dir, cfg.calibration_samples,
                         seed=cfg.calibration_seed, truncation=cfg.calibration_truncation, size=cfg.size,
                         progress=progress, device=device, allow_pickle=cfg.allow_pickle)
    return sorted(rep.written + rep.skipped)


class _UnionDomain:
    """Several ``DomainFolder`` objects seen as one (same ``__len__`` / ``image`` / ``stems``)."""

    def __init__(self, parts: list[DomainFolder]) -> None:
        self.parts = parts
        self.bounds = np.cumsum([len(p) for p in parts])

    def __len__(self) -> int:
        return int(self.bounds[-1])

    @property
    def stems(self) -> list[str]:
        return [s for p in self.parts for s in p.stems]

    def image(self, i: int) -> np.ndarray:
        k = int(np.searchsorted(self.bounds, i, side="right"))
        return self.parts[k].image(i - (int(self.bounds[k - 1]) if k else 0))


class DCTNetTask(SnapshotHooks, TrainingTask):
    """DCT-Net texture translation in the shared loop. ``perceptual``: the content-loss module
    (default ``PerceptualLoss()`` on ImageNet MobileNetV2; tests pass a tiny one);
    ``extractor``: the validation FD feature extractor (default MobileNetV2); ``device``: where
    the calibration images are sampled (training's device is the loop's);
    ``projected_backbone``: the projected discriminator's ``MobileNetV2`` trunk (default ImageNet;
    tests pass a random one)."""

    name = "dctnet"

    def __init__(self, cfg: DCTNetConfig, perceptual: nn.Module | None = None,
                 extractor: FeatureExtractor | None = None, progress: bool = True,
                 device: str | torch.device = "cpu", projected_backbone: nn.Module | None = None) -> None:
        if cfg.size % 8 or cfg.size < 16:
            raise InputError(f"--size must be a multiple of 8 and >= 16, got {cfg.size}")
        if cfg.structure_cell < 2 or cfg.structure_cell > cfg.size:
            raise InputError(f"--structure-cell must be between 2 and --size ({cfg.size}), got {cfg.structure_cell}")
        self.cfg = cfg
        self.split = unpaired_split(cfg.photos, cfg.styles, cfg.val_fraction, cfg.seed)
        self.calibration: list[str] = []
        if cfg.style_generator is not None:
            if cfg.calibration_dir is None and Path(cfg.style_generator).is_file():
                cfg.calibration_dir = str(default_calibration_dir(
                    "runs", cfg.style_generator, cfg.calibration_truncation, cfg.calibration_seed, cfg.size))
            self.calibration = sample_calibration(cfg, device, progress)
        self._perceptual, self._extractor = perceptual, extractor
        self._projected_backbone = projected_backbone
        self.ema: dict[str, nn.Module] = {}
        self._fake: torch.Tensor | None = None
        self.snapshots = Stage2Snapshots(None)

    # ---- TrainingTask API -------------------------------------------------------------------
    def build(self, device: torch.device) -> None:
        c = self.cfg
        self.device = device
        self.G = create_model("texture_unet", channels=c.channels, num_blocks=c.num_blocks).to(device)
        d_args = {"base_channels": c.d_channels, "n_layers": c.d_layers}
        self.D_surface = create_model("patch_discriminator", in_channels=3, **d_args).to(device)
        self.D_texture = create_model("patch_discriminator", in_channels=1, **d_args).to(device)
        self.D_projected: nn.Module | None = None
        if c.w_projected > 0:
            self.D_projected = create_model("projected_discriminator", head_channels=c.projected_channels,
                                            backbone=self._projected_backbone).to(device)
            lr = c.lr_d if c.lr_projected is None else c.lr_projected
            self.opt_dp = torch.optim.Adam(self.D_projected.parameters(), lr=lr, betas=c.betas)
        self.G_train, self.Ds_train, self.Dt_train = self.G, self.D_surface, self.D_texture
        self.Dp_train = self.D_projected
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=c.lr_g, betas=c.betas)
        d_params = [*self.D_surface.parameters(), *self.D_texture.parameters()]
        self.opt_d = torch.optim.Adam(d_params, lr=c.lr_d, betas=c.betas)
        if c.w_content > 0 and self._perceptual is None:
            from ..losses.perceptual import PerceptualLoss

            self._perceptual = PerceptualLoss()
        if self._perceptual is not None:
            self._perceptual = self._perceptual.to(device)
        validator = build_validator(c.photos, c.styles, self.split, c.size, max_images=c.val_max,
                                    extractor=self._extractor, device=device)
        self.snapshots = Stage2Snapshots(validator)

    def modules(self) -> dict[str, nn.Module]:
        extra = {"D_projected": self.D_projected} if self.D_projected is not None else {}
        return {"G": self.G, "D_surface": self.D_surface, "D_texture": self.D_texture} | extra

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        extra = {"D_projected": self.opt_dp} if self.D_projected is not None else {}
        return {"G": self.opt_g, "D": self.opt_d} | extra

    def added_on_resume(self) -> set[str]:
        """A phase may add the projected discriminator to a run trained without it."""
        return {"D_projected"}

    def dataset(self) -> torch.utils.data.Dataset:
        c = self.cfg
        data = train_folders(c, self.split)
        if self.calibration:
            sampled = DomainFolder(c.calibration_dir, c.size, self.calibration, "calibration")
            data.styles = _UnionDomain([data.styles, sampled])  # type: ignore[assignment]
        return data

    def phases(self) -> list[Phase]:
        return [Phase("G", self._g_step), Phase("D", self._d_step)]

    def ema_modules(self) -> list[str]:
        return ["G"]

    def wrap_modules(self, wrapped: dict[str, nn.Module]) -> None:
        self.G_train = wrapped.get("G", self.G)
        self.Ds_train = wrapped.get("D_surface", self.D_surface)
        self.Dt_train = wrapped.get("D_texture", self.D_texture)
        self.Dp_train = wrapped.get("D_projected", self.D_projected)

    def config(self) -> dict:
        return asdict(self.cfg) | self.split.counts() | {"n_calibration": len(self.calibration)}

    # ---- phases ------------------------------------------------------------------------------
    def _surface(self, x: torch.Tensor) -> torch.Tensor:
        return surface_representation(x, self.cfg.surface_radius, self.cfg.surface_eps)

    def _diff(self, x: torch.Tensor) -> torch.Tensor:
        """DiffAugment's translation and cutout (Zhao et al. 2020) before the projected
        discriminator, on reals and fakes alike: differentiable, so G learns through it. Without
        it the heads memorised the anime set within 300 steps (D loss near 0) and the generator
        collapsed to a flat red image."""
        return augment(x, self.cfg.projected_augment, ("translate", "cutout"))

    def _g_step(self, batch: dict[str, torch.Tensor], step: int) -> dict[str, float]:
        c, photo = self.cfg, batch["photo"]
        self.opt_g.zero_grad(set_to_none=True)
        fake = self.G_train(photo)
        terms: dict[str, torch.Tensor] = {}
        if step >= c.gan_start:
            # Through the unwrapped Ds: their own phase steps them.
            if c.w_surface > 0:
                terms["surface"] = c.w_surface * g_loss(self.D_surface(self._surface(fake)), "lsgan")
            if c.w_texture > 0:
                terms["texture"] = c.w_texture * g_loss(self.D_texture(texture_representation(fake)), "lsgan")
            if self.D_projected is not None:
                terms["projected"] = c.w_projected * _mean_over_scales(g_loss, self.D_projected(self._diff(fake)))
        if c.w_content > 0 and self._perceptual is not None:
            terms["content"] = c.w_content * self._perceptual(fake, photo)
        if c.w_structure > 0:
            target = flat_fill_target(fake.detach(), c.structure_cell, c.structure_ink)
            terms["structure"] = c.w_structure * (fake - target).abs().mean()
        if c.w_tv > 0:
            terms["tv"] = c.w_tv * total_variation(fake, power=2)
        if c.w_colour > 0:
            terms["colour"] = c.w_colour * colour_loss(fake, photo, relative=c.colour_relative)
        total = sum(terms.values(), fake.new_zeros(()))
        if total.requires_grad:
            total.backward(inputs=list(self.G.parameters()))
            self.opt_g.step()
        self._fake = fake.detach()
        return {f"loss/G_{k}": float(v.detach()) for k, v in terms.items()} | {"loss/G": float(total.detach())}

    def _d_step(self, batch: dict[str, torch.Tensor], step: int) -> dict[str, float]:
        c = self.cfg
        fake, self._fake = self._fake, None
        if step < c.gan_start or (c.w_surface <= 0 and c.w_texture <= 0 and self.D_projected is None):
            return {}
        if fake is None:
            with torch.no_grad():
                fake = self.G(batch["photo"])
        style = batch["style"]
        self.opt_d.zero_grad(set_to_none=True)
        loss_s = d_loss(self.Ds_train(self._surface(style)), self.Ds_train(self._surface(fake)), "lsgan")
        loss_t = d_loss(self.Dt_train(texture_representation(style)),
                        self.Dt_train(texture_representation(fake)), "lsgan")
        logs = {"loss/D_surface": float(loss_s.detach()), "loss/D_texture": float(loss_t.detach())}
        total = loss_s + loss_t
        if self.Dp_train is not None:
            self.opt_dp.zero_grad(set_to_none=True)
            loss_p = _mean_over_scales(d_loss, self.Dp_train(self._diff(style)), self.Dp_train(self._diff(fake)))
            total = total + loss_p
            logs["loss/D_projected"] = float(loss_p.detach())
        total.backward()
        self.opt_d.step()
        if self.Dp_train is not None:
            self.opt_dp.step()
        return logs

    # ---- validation and generator files --------------------------------------------------------
    def generator(self) -> nn.Module:
        """The generator to ship: the EMA copy (the raw one before the loop hands it over)."""
        return self.ema.get("G", self.G)

    def output_info(self) -> dict:
        return {"task": self.name, "size": self.cfg.size}


def _mean_over_scales(loss, *outputs: list[torch.Tensor]) -> torch.Tensor:
    """``loss(*maps, "lsgan")`` averaged over the projected discriminator's scales."""
    return torch.stack([loss(*maps, "lsgan") for maps in zip(*outputs, strict=True)]).mean()
