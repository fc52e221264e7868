"""AgileGAN's hierarchical variational encoder: images -> Z+ codes (Song et al. 2021), then optional
refinement by optimization.

A conv backbone builds a feature pyramid with a top-down path (as in pSp): fine (size/4 px), medium
(size/8 px) and coarse (size/16 px) maps. The ``num_ws`` per-layer codes are split into three
consecutive groups; the coarse map predicts the first group (pose, shape), the medium one the middle,
the fine one the last (colour, texture). Each sub-encoder outputs a mean and a log-variance per code;
training samples ``z = mu + exp(logvar / 2) * eps`` and adds ``beta * KL(q || N(0, I))``, which keeps
the codes where G's mapping network expects its inputs (AgileGAN's argument for Z+ over W+).

Training needs no photos: G draws images from known z+, and the encoder learns to recover them
(latent regression), to reproduce the images through G (pixel and perceptual losses), and the KL term.
Widths scale with ``G.style_dim`` so tiny test generators get tiny encoders.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InputError
from ..models.encoders import HierarchicalEncoder, split_groups
from ..models.factory import load_kind
from ..models.model_file import save_model
from ..models.stylegan2 import Generator
from .inversion import InversionResult, default_perceptual, frozen, invert_optimize, prepare_target

__all__ = ["HierarchicalEncoder", "encode", "encoder_for", "invert_encoder", "kl_divergence", "load_encoder",
           "save_encoder", "split_groups", "train_encoder"]


def encoder_for(G: Generator, size: int | None = None, base: int | None = None) -> HierarchicalEncoder:
    """An untrained encoder matching ``G`` (working size ``min(G.size, 256)`` unless given, at least 16)."""
    return HierarchicalEncoder(size or max(16, min(G.size, 256)), G.num_ws, G.style_dim, base)


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)), averaged over every entry (a scalar >= 0)."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).mean()


def train_encoder(
    G: Generator, steps: int = 1000, batch: int = 8, *, encoder: HierarchicalEncoder | None = None,
    lr: float = 1e-3, w_pixel: float = 1.0, w_perceptual: float = 0.0, w_latent: float = 1.0, beta: float = 1e-3,
    mix_prob: float = 0.5, seed: int = 0, perceptual: nn.Module | None = None,
    progress: Callable[[int, int, dict[str, float]], None] | None = None,
) -> tuple[HierarchicalEncoder, list[dict[str, float]]]:
    """Train (or continue training) an encoder on images that ``G`` draws from known z+ codes.

    Each step draws z+ (batch, num_ws, D): one z repeated over the layers, or with probability ``mix_prob``
    two z's with a random crossover layer (style mixing, so that per-layer codes are learnt). G draws
    targets with its stored noise maps; the encoder's sampled z+ goes back through ``G(z+, "z+")``.
    Loss: ``w_pixel * MSE + w_perceptual * perceptual + w_latent * MSE(mu, z+) + beta * KL``.
    Returns (encoder in eval mode, per-step dicts of the loss terms). Deterministic for a seed.
    """
    if steps < 0 or batch < 1:
        raise InputError(f"need steps >= 0 and batch >= 1, got {steps}, {batch}")
    device = next(G.parameters()).device
    if encoder is None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            encoder = encoder_for(G)
    encoder.to(device).train()
    if w_perceptual and perceptual is None:
        perceptual = default_perceptual()
    if perceptual is not None:
        perceptual.to(device)
    gen = torch.Generator().manual_seed(seed + 1)
    opt = torch.optim.Adam(encoder.parameters(), lr=lr, betas=(0.9, 0.99))
    history: list[dict[str, float]] = []
    G.eval()
    with frozen(G):
        for step in range(steps):
            z = torch.randn(batch, 2, G.style_dim, generator=gen)
            cut = torch.randint(1, G.num_ws, (batch,), generator=gen)
            mix = torch.rand(batch, generator=gen) < mix_prob
            layer = torch.arange(G.num_ws)
            second = (layer[None] >= cut[:, None]) & mix[:, None]  # (batch, num_ws)
            zplus = torch.where(second[..., None], z[:, 1:2], z[:, :1]).to(device)
            zplus = zplus * G.style_dim**0.5 / zplus.norm(dim=-1, keepdim=True)  # what the mapping's pixel norm sees
            with torch.no_grad():
                target = G(zplus, input_space="z+", randomize_noise=False)
            mu, logvar = encoder(target)
            eps = torch.randn(mu.shape, generator=gen).to(device)
            sample = mu + (0.5 * logvar).exp() * eps
            recon = G(sample, input_space="z+", randomize_noise=False)
            terms = {"pixel": F.mse_loss(recon, target), "latent": F.mse_loss(mu, zplus),
                     "kl": kl_divergence(mu, logvar)}
            if w_perceptual and perceptual is not None:
                terms["perceptual"] = perceptual(recon, target)
            weights = {"pixel": w_pixel, "latent": w_latent, "kl": beta, "perceptual": w_perceptual}
            loss = sum(weights[k] * v for k, v in terms.items())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            record = {k: float(v.detach()) for k, v in terms.items()} | {"loss": float(loss.detach())}
            history.append(record)
            if progress is not None:
                progress(step + 1, steps, record)
    return encoder.eval(), history


@torch.no_grad()
def encode(encoder: HierarchicalEncoder, images: torch.Tensor, *, sample: bool = False, seed: int = 0) -> torch.Tensor:
    """Images (N, 3, H, W) in [-1, 1] -> z+ (N, num_ws, D): the posterior means, or a seeded sample."""
    device = next(encoder.parameters()).device
    was = encoder.training
    mu, logvar = encoder.eval()(images.float().to(device))
    encoder.train(was)
    if not sample:
        return mu
    eps = torch.randn(mu.shape, generator=torch.Generator().manual_seed(seed)).to(device)
    return mu + (0.5 * logvar).exp() * eps


def invert_encoder(G: Generator, encoder: HierarchicalEncoder, target: torch.Tensor, *, refine_steps: int = 0,
                   seed: int = 0, **optimize_kwargs) -> InversionResult:
    """Invert one image (1, 3, H, W) in [-1, 1]: encode to z+, map to W+, then (``refine_steps`` > 0) refine
    with :func:`invert_optimize` in W+ starting from that code (``optimize_kwargs`` go there)."""
    if encoder.num_ws != G.num_ws or encoder.style_dim != G.style_dim:
        raise InputError(f"encoder codes ({encoder.num_ws}, {encoder.style_dim}) do not fit this generator "
                         f"({G.num_ws}, {G.style_dim})")
    target = prepare_target(target, G.size)
    zplus = encode(encoder, target)
    with torch.no_grad():
        ws = G.mapping(zplus.reshape(-1, G.style_dim)).reshape(zplus.shape)
    if refine_steps > 0:
        return invert_optimize(G, target, space="w+", steps=refine_steps, init=ws, seed=seed, **optimize_kwargs)
    with torch.no_grad():
        noise = [getattr(G.noises, f"noise_{i}").clone() for i in range(G.num_layers)]
        image = G.synthesis(ws, noise=noise)
        loss = float(F.mse_loss(image, target.to(image)))
    return InversionResult(ws=ws, noise=noise, loss_history=[loss], image=image)


def save_encoder(path: str | Path, encoder: HierarchicalEncoder) -> Path:
    """Write the encoder as a model file (``.safetensors``: weights and config), atomically."""
    p = Path(path)
    if p.suffix.lower() != ".safetensors":
        raise InputError(f"save the encoder to a .safetensors file, got {p.name}")
    return save_model(p, encoder)


def load_encoder(path: str | Path) -> HierarchicalEncoder:
    """Read an encoder written by :func:`save_encoder` (eval mode, CPU); one-line CheckpointError otherwise."""
    return load_kind(path, "hierarchical-encoder", "Z+ encoder")[0]
