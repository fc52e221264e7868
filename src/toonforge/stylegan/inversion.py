"""GAN inversion by optimization: find the W / W+ code (and noise maps) that make G draw a target.

The recipe follows the StyleGAN2 projector (Karras et al. 2020, ``projector.py``): start from the
average w, optimize the code with Adam under a cosine-shaped learning-rate ramp, add decaying
Gaussian jitter to the code early on (so the search is not stuck in the first basin), and optimize
the per-layer noise maps too, with a multi-scale autocorrelation penalty that keeps them from
smuggling image content, renormalizing them to zero mean and unit variance after every step.

The loss is ``w_pixel * MSE + w_perceptual * LPIPS-like feature distance + noise_reg * reg``;
the feature distance uses the ImageNet MobileNetV2 of :mod:`toonforge.losses.perceptual` (no VGG
weights exist on these machines). Everything random is drawn from one seeded generator on the
CPU, so a run is a pure function of (G, target, settings, seed) on a given machine and torch build.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from ..errors import InputError, MissingDependencyError
from ..models.stylegan2 import Generator

SPACES = ("w", "w+")
_LOSS_SIZE = 256  # NVlabs compares images at most 256 px wide
_PERCEPTUAL: list[torch.nn.Module] = []  # the ImageNet loss, built once per process


@dataclass
class InversionResult:
    """What :func:`invert_optimize` found.

    Attributes:
        ws: (1, num_ws, style_dim) float32 W+ codes (a W result is repeated per layer).
        noise: ``G.num_layers`` maps (1, 1, r, r), zero mean and unit variance each.
        loss_history: total loss before each step (``steps`` values), then the loss of the result.
        image: (1, 3, size, size) float32, G's drawing of ``ws`` with ``noise``, roughly in [-1, 1].
    """

    ws: torch.Tensor
    noise: list[torch.Tensor]
    loss_history: list[float] = field(default_factory=list)
    image: torch.Tensor | None = None

    @property
    def final_loss(self) -> float:
        """The loss of the returned code (NaN when no step was taken)."""
        return self.loss_history[-1] if self.loss_history else float("nan")


def default_perceptual() -> torch.nn.Module | None:
    """The ImageNet MobileNetV2 perceptual loss, or None (with a warning) when its weights are absent."""
    if not _PERCEPTUAL:
        from ..losses.perceptual import PerceptualLoss

        try:
            _PERCEPTUAL.append(PerceptualLoss())
        except MissingDependencyError as exc:
            warnings.warn(f"perceptual loss disabled: {exc}", stacklevel=3)
            return None
    return _PERCEPTUAL[0]


@contextmanager
def frozen(module: torch.nn.Module):
    """Turn off ``requires_grad`` on a module's parameters for the block; restore it afterwards."""
    flags = [(p, p.requires_grad) for p in module.parameters()]
    for p, _ in flags:
        p.requires_grad_(False)
    try:
        yield module
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)


def prepare_target(target: torch.Tensor, size: int) -> torch.Tensor:
    """(1, 3, H, W) or (3, H, W) in [-1, 1] -> (1, 3, size, size) float32 (area when shrinking,
    bicubic when growing; the aspect ratio is not kept, so pass square, aligned crops)."""
    if target.ndim == 3:
        target = target.unsqueeze(0)
    if target.ndim != 4 or target.shape[:2] != (1, 3):
        raise InputError(f"the target must be one RGB image (1, 3, H, W), got {tuple(target.shape)}")
    if not torch.isfinite(target).all():
        raise InputError("the target image contains NaN or infinity")
    target = target.float()
    if target.shape[-2:] != (size, size):
        shrink = target.shape[-2] * target.shape[-1] > size * size
        mode = "area" if shrink else "bicubic"
        target = F.interpolate(target, size=(size, size), mode=mode, **({} if shrink else {"align_corners": False}))
    return target.clamp(-1, 1)


def noise_regularization(noise: Sequence[torch.Tensor]) -> torch.Tensor:
    """Squared autocorrelation of each map at a one-pixel shift (both axes), summed over a pyramid that
    halves each map down to 8 px. White noise scores ~0; maps that hide image structure score high."""
    total = noise[0].new_zeros(())
    for n in noise:
        while True:
            total = total + (n * torch.roll(n, 1, dims=3)).mean() ** 2 + (n * torch.roll(n, 1, dims=2)).mean() ** 2
            if n.shape[-1] <= 8:
                break
            n = F.avg_pool2d(n, 2)
    return total


@torch.no_grad()
def _normalize_(noise: Sequence[torch.Tensor]) -> None:
    for n in noise:
        n.sub_(n.mean()).div_(n.std().clamp_min(1e-8))


def _lr_factor(t: float, rampdown: float = 0.25, rampup: float = 0.05) -> float:
    """Learning-rate multiplier at progress t in [0, 1]: linear warm-up, cosine ramp-down at the end."""
    down = min(1.0, (1.0 - t) / rampdown)
    return (0.5 - 0.5 * math.cos(down * math.pi)) * min(1.0, t / rampup)


def _w_stats(G: Generator, n: int, seed: int) -> tuple[torch.Tensor, float]:
    """(w_avg (1, D), scalar spread of w around it) from ``n`` seeded samples."""
    with torch.no_grad():
        w = G.style(G.sample_z(n, seed))
        avg = G.latent_avg.to(w) if G.latent_avg is not None else w.mean(0, keepdim=True)
        return avg, float(((w - avg) ** 2).sum(1).mean().sqrt())


def invert_optimize(
    G: Generator, target: torch.Tensor, *, space: str = "w+", steps: int = 300, lr: float = 0.05,
    w_pixel: float = 1.0, w_perceptual: float = 1.0, noise_reg: float = 1e5, init: str | torch.Tensor = "mean",
    seed: int = 0, optimize_noise: bool = True, latent_jitter: float = 0.05, perceptual: torch.nn.Module | None = None,
    n_mean: int = 4096, progress: Callable[[int, int, float], None] | None = None,
) -> InversionResult:
    """Optimize a latent code so that ``G`` reproduces ``target``.

    Args:
        G: the generator (its device is used; it is put in eval mode and left unchanged).
        target: (1, 3, H, W) or (3, H, W) float in [-1, 1]; resized to G.size (see :func:`prepare_target`).
        space: "w" (one (1, D) code shared by all layers) or "w+" (one code per layer, (1, num_ws, D)).
        steps: optimizer steps (0 returns the initial code). lr: peak Adam learning rate.
        w_pixel, w_perceptual: loss weights; 0 disables a term. The perceptual term uses ``perceptual``
            (a module taking pred, target) or the ImageNet MobileNetV2 loss when its weights are installed.
        noise_reg: weight of :func:`noise_regularization` (only when ``optimize_noise``).
        init: "mean" (the average w), or a W (1, D) / W+ (1, num_ws, D) code, e.g. from an encoder.
        seed: seeds the initial noise maps and the early latent jitter.
        latent_jitter: initial jitter as a fraction of the spread of w; it decays to 0 at 75 % of the run.
        n_mean: samples used to estimate the average w and its spread.
        progress: called as ``progress(step, steps, loss)`` after every step.

    Returns:
        :class:`InversionResult` (W+ codes, noise, loss history, reconstruction).
    """
    if space not in SPACES:
        raise InputError(f"space must be 'w' or 'w+', got {space!r}")
    if steps < 0 or lr <= 0:
        raise InputError(f"need steps >= 0 and lr > 0, got steps={steps}, lr={lr}")
    device = next(G.parameters()).device
    target = prepare_target(target, G.size).to(device)
    loss_target = F.interpolate(target, size=_LOSS_SIZE, mode="area") if G.size > _LOSS_SIZE else target
    if w_perceptual and perceptual is None:
        perceptual = default_perceptual()
    if perceptual is not None:
        perceptual = perceptual.to(device)
    gen = torch.Generator().manual_seed(int(seed))
    was_training = G.training
    G.eval()
    with frozen(G):
        w_avg, w_spread = _w_stats(G, n_mean, seed)
        if isinstance(init, str):
            if init != "mean":
                raise InputError(f"init must be 'mean' or a latent code, got {init!r}")
            start = w_avg
        else:
            start = init.detach().float().to(device).reshape(-1, G.style_dim)
            if start.shape[0] not in (1, G.num_ws):
                raise InputError(f"init must be (1, {G.style_dim}) or (1, {G.num_ws}, {G.style_dim})")
        if space == "w":
            code = start.mean(0, keepdim=True).clone()
        else:
            code = start.expand(G.num_ws, -1).reshape(1, G.num_ws, G.style_dim).clone()
        code.requires_grad_(True)
        noise = [torch.randn(1, 1, r, r, generator=gen).to(device) for r in map(G.noise_resolution,
                                                                                range(G.num_layers))]
        for n in noise:
            n.requires_grad_(optimize_noise)
        opt = torch.optim.Adam([code] + (noise if optimize_noise else []), lr=lr, betas=(0.9, 0.999))

        def losses(ws: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            image = G.synthesis(ws, noise=noise)
            pred = F.interpolate(image, size=_LOSS_SIZE, mode="area") if G.size > _LOSS_SIZE else image
            loss = pred.new_zeros(())
            if w_pixel:
                loss = loss + w_pixel * F.mse_loss(pred, loss_target)
            if w_perceptual and perceptual is not None:
                loss = loss + w_perceptual * perceptual(pred, loss_target)
            if optimize_noise and noise_reg:
                loss = loss + noise_reg * noise_regularization(noise)
            return loss, image

        history: list[float] = []
        for step in range(steps):
            t = step / steps
            for group in opt.param_groups:
                group["lr"] = lr * _lr_factor(t)
            jitter_scale = w_spread * latent_jitter * max(0.0, 1.0 - t / 0.75) ** 2
            jitter = torch.randn(code.shape, generator=gen).to(device) * jitter_scale
            loss, _ = losses(code + jitter)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if optimize_noise:
                _normalize_(noise)
            history.append(float(loss.detach()))
            if progress is not None:
                progress(step + 1, steps, history[-1])
        with torch.no_grad():
            final, image = losses(code)
        history.append(float(final))
    G.train(was_training)
    ws = G.to_wplus(code.detach()).clone()
    return InversionResult(ws=ws, noise=[n.detach().clone() for n in noise], loss_history=history,
                           image=image.detach())
