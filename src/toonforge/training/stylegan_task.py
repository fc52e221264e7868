"""Stage-1 trainer: StyleGAN2 from scratch or by transfer learning on a small style set.

One step is four phases, as in StyleGAN2 (rosinality/NVlabs): ``D`` (non-saturating logistic
loss on ADA-augmented reals and fakes), ``Dreg`` every ``d_reg_every`` steps (lazy R1),
``G`` (non-saturating loss through the same augmentation) and ``Greg`` every ``g_reg_every``
steps (path length on half a batch). Lazy regularisation scales the Adam learning rates by
``k / (k + 1)`` and the betas by the same power. The loop keeps an EMA of G (the shipped one).

Transfer: ``resume_from`` names a generator (``.safetensors`` from ``save_generator``, a
rosinality ``.pt`` with ``g_ema``/``g``/``d``, or an NVlabs ``.pkl`` with ``allow_pickle``); the
architecture is read from it and D comes from the file when it has one, or from ``source_d``. A
rosinality train.py checkpoint also gives its Adam states and ADA p (see :mod:`.stylegan_source`).
FreezeD freezes the first ``freeze_d`` discriminator blocks
from the input side. Per-layer learning rates: ``lr_mapping`` is the mapping network's
effective rate relative to the synthesis network (0.01 as in StyleGAN; 0 freezes it) and
``lr_resolution`` multiplies the rate of the synthesis layers of given resolutions.
Early stopping: every ``eval_every`` steps (a loop setting) the EMA generator's FD-MNv2 to the
style set is measured on fixed seeds; the best snapshot goes to ``<run>/best.safetensors`` and
training stops after ``patience`` evaluations without improvement.
"""

from __future__ import annotations

import copy
import json
import math
import sys
from dataclasses import asdict, replace
from pathlib import Path

import torch
from torch import nn

from ..errors import InputError
from ..io.files import atomic_write_text
from ..models.stylegan2 import Discriminator, Generator, save_generator
from .ada import AdaController, augment
from .stylegan_config import ARCH_FIELDS, StyleFolder, StyleGANTrainConfig
from .stylegan_losses import d_logistic_loss, g_nonsaturating_loss, path_length_penalty, r1_penalty
from .stylegan_source import adopt_adam_states, load_source
from .task import Phase, TrainingTask

__all__ = ["StyleFolder", "StyleGANTask", "StyleGANTrainConfig"]

def _sync_grads(params: list[nn.Parameter]) -> None:
    """Average gradients over processes (the phases call the plain modules, not DDP wrappers)."""
    dist = torch.distributed
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return
    for p in params:
        if p.grad is not None:
            dist.all_reduce(p.grad)
            p.grad.div_(dist.get_world_size())


def _adam(groups: list[dict], lr: float, betas: tuple[float, float], every: int, on: bool) -> torch.optim.Adam:
    ratio = every / (every + 1) if on else 1.0  # lazy regularisation (StyleGAN2, appendix B)
    for g in groups:
        g["lr"] = g.pop("scale") * lr * ratio
    return torch.optim.Adam(groups, lr=lr * ratio, betas=(betas[0] ** ratio, betas[1] ** ratio))


class StyleGANTask(TrainingTask):
    """Plugs StyleGAN2 (G, D, losses, ADA, FreezeD, early stopping) into the shared loop."""

    name = "stylegan2"

    def __init__(self, cfg: StyleGANTrainConfig, extractor: object | None = None) -> None:
        self._src_G: Generator | None = None
        self._src_D: Discriminator | None = None
        if cfg.resume_from:
            cfg = self._load_source(cfg)
        cfg.validate()
        self.cfg = cfg
        self.data = StyleFolder(cfg.data, cfg.size, cfg.xflip)
        self.ada = AdaController(cfg.ada_target, cfg.ada_kimg, cfg.ada_p)
        self.pl_mean = 0.0
        self.best_fd, self.best_step, self.bad_evals = 0.0, -1, 0
        self._best_state: dict[str, torch.Tensor] | None = None
        self._extractor, self._real_feats = extractor, None
        self.ema: dict[str, nn.Module] = {}

    def _load_source(self, cfg: StyleGANTrainConfig) -> StyleGANTrainConfig:
        self._source = load_source(cfg.resume_from, allow_pickle=cfg.allow_pickle, d_path=cfg.source_d)
        self._src_G, self._src_D = self._source.G, self._source.D
        return replace(cfg, **{k: self._src_G.config[k] for k in ARCH_FIELDS})

    def _adopt_source_states(self) -> None:
        """Adam moments and ADA p of a rosinality train.py source, where they fit; says what it kept."""
        src = getattr(self, "_source", None)
        if src is None or not (src.optim_states or src.ada_p is not None):
            return
        kept = []
        for name, (opt, net) in {"G": (self.opt_g, self.G), "D": (self.opt_d, self.D)}.items():
            if name in src.optim_states:
                adopted, total = adopt_adam_states(opt, net, *src.optim_states[name])
                kept.append(f"{name} Adam states {adopted}/{total}")
        if src.ada_p is not None and self.cfg.ada and self.cfg.ada_p == 0:
            self.ada.p = src.ada_p
            kept.append(f"ADA p {src.ada_p:.4g}")
        print(f"from {Path(self.cfg.resume_from).name}: kept {', '.join(kept)}", file=sys.stderr)

    # ---- TrainingTask API -------------------------------------------------------------------
    def build(self, device: torch.device) -> None:
        c, self.device = self.cfg, device
        if self._src_G is not None:
            G = copy.deepcopy(self._src_G)
        else:
            G = Generator(c.size, c.style_dim, c.n_mlp, c.channel_multiplier, c.channel_max)
        G.latent_avg = None  # the source's average w no longer fits once G trains
        D = copy.deepcopy(self._src_D) if self._src_D is not None else Discriminator(
            c.size, c.channel_multiplier, c.channel_max)
        self.G, self.D = G.train().to(device), D.train().to(device)
        blocks = D.blocks_from_input()
        if c.freeze_d >= len(blocks):
            raise InputError(f"--freeze-d {c.freeze_d} would freeze all {len(blocks)} discriminator blocks")
        for block in blocks[: c.freeze_d]:
            block.requires_grad_(False)
        scales: dict[float, list[nn.Parameter]] = {}
        lr_mult = {int(k): float(v) for k, v in c.lr_resolution.items()}
        for key, p in G.named_parameters():
            if key.startswith("style."):
                scale = c.lr_mapping / float(G.config["lr_mlp"])  # EqualLinear already applies lr_mlp
            else:
                scale = lr_mult.get(G.param_resolution(key) or 0, 1.0)
            if scale == 0:
                p.requires_grad_(False)
            else:
                scales.setdefault(scale, []).append(p)
        self._g_params = [p for ps in scales.values() for p in ps]
        self._d_params = [p for p in D.parameters() if p.requires_grad]
        g_groups = [{"params": ps, "scale": s} for s, ps in scales.items()]
        self.opt_g = _adam(g_groups, c.lr, c.betas, c.g_reg_every, c.pl_weight > 0)
        self.opt_d = _adam([{"params": self._d_params, "scale": 1.0}], c.lr, c.betas, c.d_reg_every, c.r1 > 0)
        self._adopt_source_states()

    def modules(self) -> dict[str, nn.Module]:
        return {"G": self.G, "D": self.D}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"G": self.opt_g, "D": self.opt_d}

    def dataset(self) -> torch.utils.data.Dataset:
        return self.data

    def phases(self) -> list[Phase]:
        c = self.cfg
        phases = [Phase("D", self._d_step)]
        if c.r1 > 0:
            phases.append(Phase("Dreg", self._dreg_step, c.d_reg_every))
        phases.append(Phase("G", self._g_step))
        if c.pl_weight > 0:
            phases.append(Phase("Greg", self._greg_step, c.g_reg_every))
        return phases

    def ema_modules(self) -> list[str]:
        return ["G"]

    def set_ema(self, ema: dict[str, nn.Module]) -> None:
        self.ema = ema

    def config(self) -> dict:
        return asdict(self.cfg) | {"n_images": len(self.data.files)}

    def extra_state(self) -> dict:
        return {"ada": self.ada.state_dict(), "pl_mean": float(self.pl_mean), "best_fd": float(self.best_fd),
                "best_step": int(self.best_step), "bad_evals": int(self.bad_evals)}

    def load_extra_state(self, state: dict) -> None:
        self.ada.load_state_dict(state["ada"])
        self.pl_mean, self.best_fd = float(state["pl_mean"]), float(state["best_fd"])
        self.best_step, self.bad_evals = int(state["best_step"]), int(state["bad_evals"])

    # ---- phases ------------------------------------------------------------------------------
    def _aug(self, images: torch.Tensor) -> torch.Tensor:
        """The one augmentation both reals and fakes go through (same ops, same p)."""
        return augment(images, self.ada.p)

    def _draw_z(self, n: int) -> torch.Tensor:
        """(n, style_dim) latents for one batch of fakes (a subclass may put a code in them)."""
        return torch.randn(n, self.G.style_dim, device=self.device)

    def _judge_fake(self, fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None, dict[str, float]]:
        """D's logits of (augmented) fakes, an auxiliary loss on them (None here) and its stats."""
        return self.D(fake), None, {}

    def _ws(self, n: int) -> torch.Tensor:
        """(n, num_ws, style_dim) codes; with probability ``mixing`` two codes split at a random layer."""
        G = self.G
        w = G.mapping(self._draw_z(n))
        cut = G.num_ws
        if self.cfg.mixing > 0 and float(torch.rand(())) < self.cfg.mixing:
            cut = int(torch.randint(1, G.num_ws, ()))
        ws = w.unsqueeze(1).repeat(1, cut, 1)
        if cut < G.num_ws:
            w2 = G.mapping(self._draw_z(n))
            ws = torch.cat([ws, w2.unsqueeze(1).repeat(1, G.num_ws - cut, 1)], dim=1)
        return ws

    def _d_step(self, real: torch.Tensor, step: int) -> dict[str, float]:
        with torch.no_grad():
            fake = self.G.synthesis(self._ws(real.shape[0]))
        real_logits, (fake_logits, aux, aux_stats) = self.D(self._aug(real)), self._judge_fake(self._aug(fake))
        loss = d_logistic_loss(real_logits, fake_logits)
        if aux is not None:
            loss = loss + aux
        self.opt_d.zero_grad(set_to_none=True)
        loss.backward()
        _sync_grads(self._d_params)
        self.opt_d.step()
        if self.cfg.ada:
            self.ada.observe(real_logits)
            if (step + 1) % self.cfg.ada_interval == 0:
                self.ada.update()
        return {"loss/D": float(loss.detach()), "D/real": float(real_logits.detach().mean()),
                "D/fake": float(fake_logits.detach().mean()), "ada/p": self.ada.p, **aux_stats}

    def _dreg_step(self, real: torch.Tensor, step: int) -> dict[str, float]:
        real = real.detach().requires_grad_(True)
        penalty = r1_penalty(self.D(self._aug(real)), real)
        self.opt_d.zero_grad(set_to_none=True)
        (self.cfg.r1 / 2 * penalty * self.cfg.d_reg_every).backward(inputs=self._d_params)
        _sync_grads(self._d_params)
        self.opt_d.step()
        return {"loss/r1": float(penalty.detach())}

    def _g_step(self, real: torch.Tensor, step: int) -> dict[str, float]:
        fake = self.G.synthesis(self._ws(real.shape[0]))
        fake_logits, aux, _ = self._judge_fake(self._aug(fake))
        loss = g_nonsaturating_loss(fake_logits)
        if aux is not None:
            loss = loss + aux
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward(inputs=self._g_params)
        _sync_grads(self._g_params)
        self.opt_g.step()
        return {"loss/G": float(loss.detach())}

    def _greg_step(self, real: torch.Tensor, step: int) -> dict[str, float]:
        c = self.cfg
        ws = self._ws(max(1, real.shape[0] // c.pl_batch_shrink))
        if not ws.requires_grad:  # frozen mapping network
            ws = ws.detach().requires_grad_(True)
        penalty, mean, _ = path_length_penalty(self.G.synthesis(ws), ws, self.pl_mean, c.pl_decay)
        self.pl_mean = float(mean)
        self.opt_g.zero_grad(set_to_none=True)
        (c.pl_weight * c.g_reg_every * penalty).backward(inputs=self._g_params)
        _sync_grads(self._g_params)
        self.opt_g.step()
        return {"loss/pl": float(penalty.detach()), "pl/mean": self.pl_mean}

    # ---- validation and early stopping -------------------------------------------------------
    def _ema_G(self) -> Generator:
        return self.ema.get("G", self.G)

    @torch.no_grad()
    def measure_fd(self) -> float:
        """FD-MNv2 between ``fd_samples`` EMA-generator images (seeds fixed, truncation 1, stored
        noise) and the style set (its features computed once)."""
        from ..metrics.features import create_extractor, extract_features
        from ..metrics.frechet import fd_between

        if self._extractor is None:
            self._extractor = create_extractor("mnv2", device=self.device)
        if self._real_feats is None:
            reals = [self.data.image(i) for i in range(len(self.data.files))]
            self._real_feats = extract_features(self._extractor, reals)
        G, c, fakes = self._ema_G(), self.cfg, []
        for start in range(0, c.fd_samples, c.fd_batch):
            z = G.sample_z(min(c.fd_batch, c.fd_samples - start), seed=c.eval_seed + start)
            x = G(z, randomize_noise=False).clamp(-1, 1)
            fakes += list(((x + 1) * 127.5).round().byte().permute(0, 2, 3, 1).cpu().numpy())
        return fd_between(extract_features(self._extractor, fakes), self._real_feats)

    def evaluate(self, step: int) -> dict[str, float]:
        """Measure ``val/fd``; remember the EMA weights when it is the best so far."""
        if self.cfg.fd_samples <= 0:
            return {}
        fd = float(self.measure_fd())
        if not math.isfinite(fd):
            raise InputError(f"validation FD is {fd} at step {step}")
        if self.best_step < 0 or fd < self.best_fd:
            self.best_fd, self.best_step, self.bad_evals = fd, step, 0
            self._best_state = {k: v.detach().cpu().clone() for k, v in self._ema_G().state_dict().items()}
        else:
            self.bad_evals += 1
        return {"val/fd": fd, "val/best_fd": self.best_fd}

    def should_stop(self) -> bool:
        return self.cfg.patience > 0 and self.bad_evals >= self.cfg.patience

    def _export(self, path: Path, state: dict[str, torch.Tensor] | None = None) -> None:
        net = copy.deepcopy(self._ema_G()).cpu().eval()
        if state is not None:
            net.load_state_dict(state)
        net.latent_avg = net.mean_latent()
        save_generator(path, net, **self._export_metadata())

    def _export_metadata(self) -> dict:
        """Extra keyword arguments of :func:`save_generator` for exported generators (none here)."""
        return {}

    def on_checkpoint(self, run_dir: Path, step: int) -> None:
        """Write ``last.safetensors`` (EMA G now) and, after an improvement, ``best.safetensors``."""
        self._export(run_dir / "last.safetensors")
        if self._best_state is not None:
            self._export(run_dir / "best.safetensors", self._best_state)
            info = {"step": self.best_step, "val/fd": self.best_fd}
            atomic_write_text(run_dir / "best.json", json.dumps(info) + "\n")
            self._best_state = None
