"""Stage-2 baseline: CycleGAN (Zhu et al., ICCV 2017) between photos (A) and style images (B).

Two ResNet generators (``resnet_generator``: G_AB photo -> style, G_BA back) and two patch
discriminators with instance norm (D_A on photos, D_B on style images). LSGAN; cycle loss
``lambda_cycle * (|G_BA(G_AB(a)) - a| + |G_AB(G_BA(b)) - b|)`` (L1 means), identity loss
``lambda_identity * lambda_cycle * (|G_AB(b) - b| + |G_BA(a) - a|)``; each discriminator loss is
halved and sees fakes drawn from a history pool of 50 images per domain (Shrivastava et al.).
Adam 2e-4, betas (0.5, 0.999), constant learning rate (the paper's linear decay over the
second half is left to ``--steps`` choice). Data: random flip, zoom 1-1.12 and shift (the
paper's resize-to-286-and-crop), independently per domain.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from ..errors import InputError
from ..losses.adversarial import d_loss, g_loss
from ..metrics.features import FeatureExtractor
from ..models.factory import create_model
from .augment import AugmentConfig
from .stage2_common import SnapshotHooks, Stage2Snapshots, build_validator, train_folders, unpaired_split
from .task import Phase, TrainingTask

__all__ = ["CycleGANConfig", "CycleGANTask", "ImagePool", "cycle_generator_losses"]


class ImagePool:
    """A history of up to ``size`` generated images for the discriminator.

    ``query(images)`` (N, C, H, W) returns a batch of the same shape: while the pool is not
    full each image is stored and returned; afterwards each image is, with probability 1/2,
    swapped with a random stored one (the stored one is returned), else returned itself.
    ``size=0`` returns the input. Randomness comes from the pool's own generator seeded with
    ``seed``; :meth:`state_dict` holds it and the stored images, so a resume is exact.
    """

    def __init__(self, size: int = 50, seed: int = 0) -> None:
        if size < 0:
            raise InputError(f"image pool size must be >= 0, got {size}")
        self.size = int(size)
        self.images: list[torch.Tensor] = []
        self.rng = torch.Generator().manual_seed(int(seed))

    def __len__(self) -> int:
        return len(self.images)

    @torch.no_grad()
    def query(self, images: torch.Tensor) -> torch.Tensor:
        if self.size == 0:
            return images.detach()
        out = []
        for img in images.detach():
            if len(self.images) < self.size:
                self.images.append(img.clone())
                out.append(img)
            elif float(torch.rand((), generator=self.rng)) < 0.5:
                k = int(torch.randint(self.size, (), generator=self.rng))
                old = self.images[k].to(img.device)
                self.images[k] = img.clone()
                out.append(old)
            else:
                out.append(img)
        return torch.stack(out)

    def state_dict(self) -> dict:
        stored = torch.stack([t.cpu() for t in self.images]) if self.images else torch.empty(0)
        return {"images": stored, "rng": self.rng.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.images = [t.clone() for t in state["images"]] if state["images"].numel() else []
        self.rng.set_state(state["rng"])


def cycle_generator_losses(G_AB: nn.Module, G_BA: nn.Module, D_A: nn.Module, D_B: nn.Module,
                           real_a: torch.Tensor, real_b: torch.Tensor, lambda_cycle: float = 10.0,
                           lambda_identity: float = 0.5) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
    """The generators' loss terms (already weighted) and the fakes (fake_a, fake_b).

    real_a, real_b: (N, 3, H, W) in [-1, 1]. Terms: ``adv_AB``, ``adv_BA`` (LSGAN),
    ``cycle_A``, ``cycle_B`` and, when ``lambda_identity > 0``, ``idt_A`` (G_BA on photos),
    ``idt_B`` (G_AB on style images). Identity generators give zero cycle and identity terms.
    """
    fake_b, fake_a = G_AB(real_a), G_BA(real_b)
    terms = {"adv_AB": g_loss(D_B(fake_b), "lsgan"), "adv_BA": g_loss(D_A(fake_a), "lsgan"),
             "cycle_A": lambda_cycle * (G_BA(fake_b) - real_a).abs().mean(),
             "cycle_B": lambda_cycle * (G_AB(fake_a) - real_b).abs().mean()}
    if lambda_identity > 0:
        w = lambda_identity * lambda_cycle
        terms["idt_A"] = w * (G_BA(real_a) - real_a).abs().mean()
        terms["idt_B"] = w * (G_AB(real_b) - real_b).abs().mean()
    return terms, fake_a, fake_b


def cyclegan_augment() -> AugmentConfig:
    """Flip, zoom 1-1.12, shift 6%: the paper's resize to 286 + random 256 crop, roughly."""
    return AugmentConfig(flip=True, scale=(1.0, 1.12), rotate_deg=0.0, translate=0.06, color_jitter=0.0)


@dataclass
class CycleGANConfig:
    """Hyper-parameters of one CycleGAN run (recorded in the run folder)."""

    photos: str
    styles: str
    size: int = 256
    base_channels: int = 64
    n_blocks: int = 9
    d_channels: int = 64
    d_layers: int = 3
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    lambda_cycle: float = 10.0
    lambda_identity: float = 0.5
    pool_size: int = 50
    ema: bool = True  # keep an EMA of G_AB (shipped instead of the raw weights)
    val_fraction: float = 0.05
    val_max: int = 64
    augment: AugmentConfig = field(default_factory=cyclegan_augment)
    seed: int = 0


class CycleGANTask(SnapshotHooks, TrainingTask):
    """CycleGAN in the shared loop; ``extractor``: the validation FD features (default MNv2)."""

    name = "cyclegan"

    def __init__(self, cfg: CycleGANConfig, extractor: FeatureExtractor | None = None) -> None:
        if cfg.size % 8 or cfg.size < 16:
            raise InputError(f"--size must be a multiple of 8 and >= 16, got {cfg.size}")
        self.cfg = cfg
        self.split = unpaired_split(cfg.photos, cfg.styles, cfg.val_fraction, cfg.seed)
        self._extractor = extractor
        self.ema: dict[str, nn.Module] = {}
        self.pool_a, self.pool_b = ImagePool(cfg.pool_size, cfg.seed), ImagePool(cfg.pool_size, cfg.seed + 1)
        self._fakes: tuple[torch.Tensor, torch.Tensor] | None = None
        self.snapshots = Stage2Snapshots(None)

    def build(self, device: torch.device) -> None:
        c = self.cfg
        self.device = device
        g_args = {"base_channels": c.base_channels, "n_blocks": c.n_blocks}
        d_args = {"base_channels": c.d_channels, "n_layers": c.d_layers, "norm": "instance", "spectral_norm": False}
        self.G_AB = create_model("resnet_generator", **g_args).to(device)
        self.G_BA = create_model("resnet_generator", **g_args).to(device)
        self.D_A = create_model("patch_discriminator", **d_args).to(device)
        self.D_B = create_model("patch_discriminator", **d_args).to(device)
        self.train_nets = self.modules()
        self.opt_g = torch.optim.Adam([*self.G_AB.parameters(), *self.G_BA.parameters()], lr=c.lr, betas=c.betas)
        self.opt_d = torch.optim.Adam([*self.D_A.parameters(), *self.D_B.parameters()], lr=c.lr, betas=c.betas)
        validator = build_validator(c.photos, c.styles, self.split, c.size, max_images=c.val_max,
                                    extractor=self._extractor, device=device)
        self.snapshots = Stage2Snapshots(validator)

    def modules(self) -> dict[str, nn.Module]:
        return {"G_AB": self.G_AB, "G_BA": self.G_BA, "D_A": self.D_A, "D_B": self.D_B}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"G": self.opt_g, "D": self.opt_d}

    def dataset(self) -> torch.utils.data.Dataset:
        return train_folders(self.cfg, self.split)

    def phases(self) -> list[Phase]:
        return [Phase("G", self._g_step), Phase("D", self._d_step)]

    def ema_modules(self) -> list[str]:
        return ["G_AB"] if self.cfg.ema else []

    def wrap_modules(self, wrapped: dict[str, nn.Module]) -> None:
        self.train_nets = {k: wrapped.get(k, m) for k, m in self.modules().items()}

    def config(self) -> dict:
        return asdict(self.cfg) | self.split.counts()

    def _g_step(self, batch: dict[str, torch.Tensor], step: int) -> dict[str, float]:
        c, n = self.cfg, self.train_nets
        self.opt_g.zero_grad(set_to_none=True)
        # Ds unwrapped: only the generators' gradients are used here (Ds step in their phase).
        terms, fake_a, fake_b = cycle_generator_losses(
            n["G_AB"], n["G_BA"], self.D_A, self.D_B, batch["photo"], batch["style"], c.lambda_cycle, c.lambda_identity)
        total = sum(terms.values(), fake_a.new_zeros(()))
        total.backward(inputs=[*self.G_AB.parameters(), *self.G_BA.parameters()])
        self.opt_g.step()
        self._fakes = (fake_a.detach(), fake_b.detach())
        return {f"loss/G_{k}": float(v.detach()) for k, v in terms.items()} | {"loss/G": float(total.detach())}

    def _d_step(self, batch: dict[str, torch.Tensor], step: int) -> dict[str, float]:
        n, fakes, self._fakes = self.train_nets, self._fakes, None
        if fakes is None:
            with torch.no_grad():
                fakes = (self.G_BA(batch["style"]), self.G_AB(batch["photo"]))
        fake_a, fake_b = self.pool_a.query(fakes[0]), self.pool_b.query(fakes[1])
        self.opt_d.zero_grad(set_to_none=True)
        loss_a = 0.5 * d_loss(n["D_A"](batch["photo"]), n["D_A"](fake_a), "lsgan")
        loss_b = 0.5 * d_loss(n["D_B"](batch["style"]), n["D_B"](fake_b), "lsgan")
        (loss_a + loss_b).backward()
        self.opt_d.step()
        return {"loss/D_A": float(loss_a.detach()), "loss/D_B": float(loss_b.detach())}

    def generator(self) -> nn.Module:
        """The photo -> style generator to ship: the EMA copy when kept, else G_AB."""
        return self.ema.get("G_AB", self.G_AB)

    def output_info(self) -> dict:
        return {"task": self.name, "size": self.cfg.size}

    def extra_state(self) -> dict:
        return super().extra_state() | {"pool_a": self.pool_a.state_dict(), "pool_b": self.pool_b.state_dict()}

    def load_extra_state(self, state: dict) -> None:
        super().load_extra_state(state)
        self.pool_a.load_state_dict(state["pool_a"])
        self.pool_b.load_state_dict(state["pool_b"])
