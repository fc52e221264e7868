"""Seeded latents and rendering for dataset sampling: every image is a pure function of its seed.

Per sample, one ``torch.Generator`` seeded with the sample's seed draws, in this order: z (1, D),
a second z (1, D) used as the style-mixing donor, and one noise map (1, 1, r, r) per noise input.
The draws happen on the CPU, so a seed gives the same numbers on any device and in any batch.
``G.sample_z(1, seed)`` equals the first draw.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import InputError, first_line
from ..models.stylegan2 import Generator
from .mixing import mix_codes

MAPPINGS = ("source", "each")


@dataclass(frozen=True)
class RenderSettings:
    """How a seed (or a saved code) becomes images.

    truncation: psi in W, toward each generator's ``latent_avg`` (or its seeded ``mean_latent()``).
    mix_layers: ws indices whose codes come from the donor latent (None: no mixing).
    mix_seed: the donor is the first draw of this seed for every sample; None: the sample's own
        second draw.
    mapping: "source" maps z once with the first generator and feeds the same W+ to all of them
        (exact correspondence); "each" maps z with every generator's own mapping network.
    size: output side in px (None: the generator size).
    truncation_cutoff: truncate only ws indices below it (NVlabs' ``truncation_cutoff``; None: all).
    """

    truncation: float = 1.0
    mix_layers: tuple[int, ...] | None = None
    mix_seed: int | None = None
    mapping: str = "source"
    size: int | None = None
    truncation_cutoff: int | None = None

    def __post_init__(self) -> None:
        if self.mapping not in MAPPINGS:
            raise InputError(f"mapping must be 'source' or 'each', got {self.mapping!r}")
        if not 0.0 <= self.truncation <= 2.0:
            raise InputError(f"truncation must be in [0, 2], got {self.truncation}")
        if self.size is not None and self.size < 1:
            raise InputError(f"size must be positive, got {self.size}")
        if self.truncation_cutoff is not None and self.truncation_cutoff < 0:
            raise InputError(f"truncation cutoff must be >= 0, got {self.truncation_cutoff}")


def seeded_draws(seed: int, G: Generator) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
    """(z (1, D), donor z (1, D), noise maps [(1, 1, r, r)] * num_layers), CPU float32, from ``seed``."""
    gen = torch.Generator().manual_seed(int(seed))
    z = torch.randn(1, G.style_dim, generator=gen)
    z_mix = torch.randn(1, G.style_dim, generator=gen)
    noise = [torch.randn(1, 1, r, r, generator=gen) for r in map(G.noise_resolution, range(G.num_layers))]
    return z, z_mix, noise


def truncation_center(G: Generator) -> torch.Tensor:
    """(1, D): the file's ``latent_avg`` when present, else ``G.mean_latent()`` (4096 samples, seed 0)."""
    return G.latent_avg if G.latent_avg is not None else G.mean_latent()


def load_latents(path: str | Path) -> torch.Tensor:
    """Saved codes from ``.npy`` (read with ``allow_pickle=False``) or ``.safetensors`` (one tensor,
    or the key ``latents`` / ``ws`` / ``w``): float32 (N, num_ws, D) W+ or (N, D) W codes."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"latents file not found: {p}")
    try:
        if p.suffix.lower() == ".npy":
            arr = torch.from_numpy(np.load(p, allow_pickle=False).astype(np.float32))
        elif p.suffix.lower() == ".safetensors":
            from safetensors.torch import load_file

            tensors = load_file(str(p))
            key = next((k for k in ("latents", "ws", "w") if k in tensors), None)
            if key is None and len(tensors) != 1:
                raise InputError(f"{p.name} holds {len(tensors)} tensors; name the codes 'latents'")
            arr = tensors[key or next(iter(tensors))].float()
        else:
            raise InputError(f"latents must be a .npy or .safetensors file, got {p.name}")
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001  (corrupt file, pickled array)
        raise InputError(f"cannot read latents {p.name}: {first_line(exc)}") from None
    if arr.ndim not in (2, 3) or arr.shape[0] == 0:
        raise InputError(f"{p.name}: expected codes (N, num_ws, D) or (N, D), got {tuple(arr.shape)}")
    if not torch.isfinite(arr).all():
        raise InputError(f"{p.name}: codes contain NaN or infinity")
    return arr


def check_latents(codes: torch.Tensor, G: Generator, name: str = "latents") -> torch.Tensor:
    """Codes as W+ (N, num_ws, D) for ``G``, or a one-line InputError naming the expected shape."""
    try:
        return G.to_wplus(codes)
    except ValueError:
        raise InputError(
            f"{name} have shape {tuple(codes.shape)}; this generator needs (N, {G.num_ws}, {G.style_dim}) "
            f"or (N, {G.style_dim})"
        ) from None


def to_uint8(images: torch.Tensor, size: int | None = None) -> list[np.ndarray]:
    """(N, 3, H, W) in [-1, 1] -> N arrays (size, size, 3) uint8 (clipped; resized when ``size``)."""
    x = ((images.detach().float().cpu() + 1.0) * 127.5).clamp(0, 255).round().to(torch.uint8)
    out = [np.ascontiguousarray(im.permute(1, 2, 0).numpy()) for im in x]
    if size is not None and size != images.shape[-1]:
        from ..io.images import resize_rgb

        out = [resize_rgb(im, (size, size)) for im in out]
    return out


def _codes(G: Generator, z: torch.Tensor, z_mix: torch.Tensor, fixed: torch.Tensor | None,
           s: RenderSettings, center: torch.Tensor, donor: torch.Tensor | None = None) -> torch.Tensor:
    ws = fixed if fixed is not None else G.to_wplus(G.style(z))
    if donor is not None and s.mix_layers:  # a template's codes go in as they are, after truncation
        return mix_codes(G.truncate(ws, s.truncation, center), donor.to(ws), s.mix_layers)
    if s.mix_layers:
        ws = mix_codes(ws, G.to_wplus(G.style(z_mix)), s.mix_layers)
    return G.truncate(ws, s.truncation, center, s.truncation_cutoff)


@torch.no_grad()
def render(
    generators: Mapping[str, Generator], seeds: Sequence[int], settings: RenderSettings,
    latents: torch.Tensor | None = None, exact: bool = True, centers: Mapping[str, torch.Tensor] | None = None,
    donor: torch.Tensor | None = None,
) -> dict[str, list[np.ndarray]]:
    """Images for ``seeds`` from every generator: ``{side: [(size, size, 3) uint8, ...]}``.

    Args:
        generators: side name -> generator (same architecture); the first one maps z when
            ``settings.mapping == "source"``.
        seeds: one per image; seeds the latent (unless ``latents``), the mixing donor and the noise.
        latents: optional W+ codes (len(seeds), num_ws, D) used instead of the seeded z.
        exact: one forward pass per image, so the pixels do not depend on how images are batched
            (CPU kernels round differently for different batch sizes); False batches them.
        centers: truncation centres per side (computed when missing).
        donor: a template's W+ code (1, num_ws, D) (e.g. an inverted face): with ``mix_layers`` its codes
            replace those layers of every image after truncation (instead of the seeded donor).
    """
    sides = list(generators)
    first = generators[sides[0]]
    device = next(first.parameters()).device
    centers = dict(centers or {})
    for side in sides:
        if side not in centers:
            centers[side] = truncation_center(generators[side])
    draws = [seeded_draws(seed, first) for seed in seeds]
    donor = first.sample_z(1, settings.mix_seed).cpu() if settings.mix_seed is not None else None
    groups = [[i] for i in range(len(seeds))] if exact else [list(range(len(seeds)))]
    out: dict[str, list[np.ndarray]] = {side: [] for side in sides}
    for idx in groups:
        if not idx:
            continue
        z = torch.cat([draws[i][0] for i in idx]).to(device)
        z_mix = (donor.expand(len(idx), -1) if donor is not None else torch.cat([draws[i][1] for i in idx])).to(device)
        noise = [torch.cat([draws[i][2][j] for i in idx]).to(device) for j in range(first.num_layers)]
        fixed = latents[idx].to(device) if latents is not None else None
        shared = None
        for side in sides:
            G = generators[side]
            if shared is None or settings.mapping == "each":
                shared = _codes(G, z, z_mix, fixed, settings, centers[side].to(device), donor)
            ws = shared
            out[side].extend(to_uint8(G.synthesis(ws, noise=noise), settings.size))
    return out
