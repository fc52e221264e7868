"""Stage-3 trainer: the lightweight translator learned from (photo, stylized) pairs.

Losses (each weight can be 0 to switch it off):
* pixel: L1 between output and target;
* perceptual: L1 between ImageNet MobileNetV2 feature maps (strides 4, 8, 16);
* GAN: a patch discriminator, loss kind selectable (lsgan, hinge, nonsaturating), switched on
  after ``gan_start`` steps of pixel/perceptual warm-up;
* edge-promoting (CartoonGAN): the discriminator also sees edge-smoothed targets as fake, so
  the generator is pushed toward crisp outlines rather than blurred ones.
Data: paired folders (same file stems), geometric augmentation on both, colour on the input,
and a deterministic held-out split for validation (``val_l1`` on the EMA generator).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from ..errors import InputError
from ..losses.adversarial import d_loss, g_loss
from ..losses.edge import edge_promoting_d_loss, edge_smooth_tensor
from ..losses.pixel import l1_loss
from ..models.factory import create_model
from .augment import AugmentConfig
from .paired_data import PairedFolder, check_pairing, split_names
from .task import Phase, TrainingTask


@dataclass
class TranslatorTrainConfig:
    """Hyper-parameters of one translator training run (recorded in the run folder)."""

    inputs: str
    targets: str
    tier: str = "small"
    size: int = 256
    lr_g: float = 5e-4
    lr_d: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.99)
    w_pixel: float = 1.0
    w_perceptual: float = 0.3
    w_gan: float = 0.05
    gan_kind: str = "lsgan"
    gan_start: int = 500
    edge_promoting: bool = True
    d_channels: int = 32
    val_fraction: float = 0.05
    val_max: int = 64
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    seed: int = 0
    init_from: str | None = None  # checkpoint or style folder to start from (see translator_init)
    crop_size: int | None = None  # random crop of each training pair (validation stays full size)
    tone_augment: float = 0.0  # probability of the shared dim/warm tone shift (tone_augment.py)


class TranslatorTask(TrainingTask):
    """Plugs the translator, its discriminator and losses into the shared training loop."""

    name = "translator"

    def __init__(self, cfg: TranslatorTrainConfig, perceptual: nn.Module | None = None, *,
                 allow_missing_targets: bool = False) -> None:
        check_sizes(cfg.size, cfg.crop_size, cfg.tone_augment)
        self.cfg = cfg
        names = check_pairing(PairedFolder(cfg.inputs, cfg.targets, cfg.size), allow_missing=allow_missing_targets)
        self.train_names, self.val_names = split_names(names, cfg.val_fraction, cfg.seed)
        if not self.train_names:
            raise InputError("no training pairs left after the validation split")
        self._perceptual = perceptual
        self._val_data: PairedFolder | None = None
        self.ema: dict[str, nn.Module] = {}

    # ---- TrainingTask API -------------------------------------------------------------------
    def build(self, device: torch.device) -> None:
        cfg = self.cfg
        self.device = device
        G, D = self._make_nets()
        self.G, self.D = G.to(device), D.to(device)
        if cfg.init_from is not None and not self.resuming:  # a resume brings its own states
            self._init_from(cfg.init_from)
        self.G_train, self.D_train = self.G, self.D
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=cfg.lr_g, betas=cfg.betas)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=cfg.lr_d, betas=cfg.betas)
        if cfg.w_perceptual > 0 and self._perceptual is None:
            from ..losses.perceptual import PerceptualLoss

            self._perceptual = PerceptualLoss()
        if self._perceptual is not None:
            self._perceptual = self._perceptual.to(device)

    def _make_nets(self) -> tuple[nn.Module, nn.Module]:
        """(generator, discriminator), freshly initialised."""
        cfg = self.cfg
        return (create_model("translator", tier=cfg.tier),
                create_model("patch_discriminator", base_channels=cfg.d_channels))

    def _init_from(self, source: str) -> None:
        from .translator_init import init_translator

        init_translator(source, self.G, self.D)

    def modules(self) -> dict[str, nn.Module]:
        return {"G": self.G, "D": self.D}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"G": self.opt_g, "D": self.opt_d}

    def dataset(self) -> torch.utils.data.Dataset:
        c = self.cfg
        return PairedFolder(c.inputs, c.targets, c.size, c.augment, c.seed, names=self.train_names,
                            crop=c.crop_size, tone_p=c.tone_augment)

    def phases(self) -> list[Phase]:
        phases = [Phase("G", self._g_step)]
        if self.cfg.w_gan > 0:
            phases.insert(0, Phase("D", self._d_step))
        return phases

    def ema_modules(self) -> list[str]:
        return ["G"]

    def wrap_modules(self, wrapped: dict[str, nn.Module]) -> None:
        self.G_train, self.D_train = wrapped.get("G", self.G), wrapped.get("D", self.D)

    def set_ema(self, ema: dict[str, nn.Module]) -> None:
        self.ema = ema

    def config(self) -> dict:
        return asdict(self.cfg) | {"n_train": len(self.train_names), "n_val": len(self.val_names)}

    # ---- phases ------------------------------------------------------------------------------
    def _gan_on(self, step: int) -> bool:
        return self.cfg.w_gan > 0 and step >= self.cfg.gan_start

    def _d_step(self, batch: tuple[torch.Tensor, torch.Tensor], step: int) -> dict[str, float]:
        if not self._gan_on(step):
            return {}
        x, y, cond = self._unpack(batch)
        with torch.no_grad():
            fake = self._generate(self.G, x, cond)
        self.opt_d.zero_grad(set_to_none=True)
        real_logits, fake_logits = self._score(self.D_train, y, cond), self._score(self.D_train, fake, cond)
        if self.cfg.edge_promoting:
            smooth_logits = self._score(self.D_train, edge_smooth_tensor(y), cond)
            loss = edge_promoting_d_loss(real_logits, fake_logits, smooth_logits, self.cfg.gan_kind)
        else:
            loss = d_loss(real_logits, fake_logits, self.cfg.gan_kind)
        loss.backward()
        self.opt_d.step()
        return {"loss/D": float(loss.detach())}

    def _g_step(self, batch: tuple[torch.Tensor, torch.Tensor], step: int) -> dict[str, float]:
        x, y, cond = self._unpack(batch)
        c = self.cfg
        self.opt_g.zero_grad(set_to_none=True)
        out = self._generate(self.G_train, x, cond)
        logs: dict[str, float] = {}
        total = out.new_zeros(())
        if c.w_pixel > 0:
            pix = l1_loss(out, y)
            total = total + c.w_pixel * pix
            logs["loss/pixel"] = float(pix.detach())
        if c.w_perceptual > 0 and self._perceptual is not None:
            perc = self._perceptual(out, y)
            total = total + c.w_perceptual * perc
            logs["loss/perceptual"] = float(perc.detach())
        if self._gan_on(step):
            # Through the unwrapped D, and gradients only into G: D is stepped in its own phase.
            adv = g_loss(self._score(self.D, out, cond), c.gan_kind)
            total = total + c.w_gan * adv
            logs["loss/G_adv"] = float(adv.detach())
        total.backward(inputs=list(self.G.parameters()))
        self.opt_g.step()
        logs["loss/G"] = float(total.detach())
        return logs

    # ---- how a batch meets the networks (a conditional subclass overrides these) --------------
    def _unpack(self, batch: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """(photos, targets, condition or None) of a batch."""
        x, y = batch
        return x, y, None

    def _generate(self, net: nn.Module, x: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
        return net(x)

    def _score(self, net: nn.Module, img: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
        return net(img)

    # ---- validation ---------------------------------------------------------------------------
    def val_dataset(self) -> PairedFolder | None:
        """The held-out pairs (at most ``val_max``), built once and reused by every evaluation."""
        names = self.val_names[: self.cfg.val_max]
        if not names:
            return None
        if self._val_data is None:
            c = self.cfg
            self._val_data = PairedFolder(c.inputs, c.targets, c.size, None, c.seed, names=names)
        return self._val_data

    @torch.no_grad()
    def evaluate(self, step: int) -> dict[str, float]:
        """Mean L1 (on [-1, 1] images) of the EMA generator on the held-out pairs."""
        data = self.val_dataset()
        if data is None:
            return {}
        return {"val/l1": self.val_l1(data, None)}

    def generator(self) -> nn.Module:
        """The generator a run ships: its EMA copy, or the trained one where there is no EMA."""
        return self.ema.get("G", self.G)

    @torch.no_grad()
    def val_l1(self, data: torch.utils.data.Dataset, cond: torch.Tensor | None) -> float:
        """Mean L1 (on [-1, 1] images) of the EMA generator on ``data``'s (photo, target) items,
        with the (S,) condition ``cond`` (None: unconditional)."""
        net = self.generator()
        was_training = net.training
        net.eval()
        total, n = 0.0, 0
        loader = torch.utils.data.DataLoader(data, batch_size=8, shuffle=False)
        for x, y in loader:
            x = x.to(self.device)
            c = None if cond is None else cond.to(self.device).expand(len(x), -1)
            out = self._generate(net, x, c)
            total += float((out - y.to(self.device)).abs().mean()) * len(x)
            n += len(x)
        net.train(was_training)
        return total / max(1, n)


def check_sizes(size: int, crop_size: int | None = None, tone_augment: float = 0.0) -> None:
    """One-line InputErrors for a --size, --crop-size or --tone-augment the trainer cannot use."""
    if size % 16:
        raise InputError(f"--size must be a multiple of 16, got {size}")
    if crop_size is not None and (crop_size % 16 or not 16 <= crop_size <= size):
        raise InputError(f"--crop-size must be a multiple of 16 between 16 and --size ({size}), got {crop_size}")
    if not 0.0 <= tone_augment <= 1.0:
        raise InputError(f"--tone-augment must be a probability in [0, 1], got {tone_augment}")
