"""Info-StyleGAN codes (customised faces, method three of the reference): one model, K requested types.

An Info-StyleGAN is a plain StyleGAN2 generator trained with an InfoGAN categorical code ``c`` in
``0..K-1`` beside the noise: the code replaces the first K entries of z by ``sqrt(K) * one_hot(c)``
(so z keeps its expected squared norm, and the mapping network's pixel norm leaves the code readable);
z's other entries stay Gaussian. The generator file records K in its header (``info_codes``), so every
other command still loads it as an ordinary generator.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from ..errors import CheckpointError, InputError

META_KEY = "info_codes"


def with_code(z: torch.Tensor, codes: torch.Tensor, k: int) -> torch.Tensor:
    """z (N, D) with entries ``0..k-1`` replaced by ``sqrt(k) * one_hot(codes)``; codes (N,) int64 in 0..k-1."""
    if not 2 <= k <= z.shape[1]:
        raise InputError(f"need 2 <= info codes <= {z.shape[1]} (the latent width), got {k}")
    if codes.ndim != 1 or codes.shape[0] != z.shape[0]:
        raise ValueError(f"codes must be (N,) for z {tuple(z.shape)}, got {tuple(codes.shape)}")
    one_hot = torch.nn.functional.one_hot(codes.long().to(z.device), k).to(z.dtype) * math.sqrt(k)
    return torch.cat([one_hot, z[:, k:]], dim=1)


def info_code_count(path: str | Path) -> int:
    """K from a generator file's header; 0 when it is no Info-StyleGAN (or not a safetensors file)."""
    from ..models.model_file import read_model_meta

    p = Path(path)
    if p.suffix.lower() != ".safetensors":
        return 0
    try:
        return int(read_model_meta(p).info.get(META_KEY, 0))
    except (CheckpointError, TypeError, ValueError):  # a plain state dict, or no count
        return 0


def code_latents(G, code: int, k: int, n: int, seed: int = 0) -> torch.Tensor:
    """W (n, D) of code ``code``: image i's z is ``G.sample_z(1, seed + i)`` with the code put in."""
    if not 0 <= code < k:
        raise InputError(f"--code must be in 0..{k - 1} for this generator, got {code}")
    z = torch.cat([G.sample_z(1, seed + i) for i in range(n)]) if n else torch.zeros(0, G.style_dim)
    with torch.no_grad():
        return G.style(with_code(z, torch.full((n,), code), k))
