"""TwinGAN (Jerry Li, 2018; ``reference/003_*``): one encoder and one progressive generator
shared by the photo and the style domain, joined by U-Net skips.

The generator is laid out like PGGAN's (a 4 x 4 block, then one block per doubling of the
resolution, each with its own 1x1 ``to_rgb``); the encoder mirrors it (a 1x1 ``from_rgb`` per
resolution, one block per halving, a 4 x 4 block and a linear layer to the embedding). Every
normalization of the generator is a :class:`~.domain_norm.DomainNorm`; the encoder and the
rest of the generator have no domain input at all, so the domain of the output is chosen by
the norms' parameter rows alone. Both nets can run at any resolution of the pyramid with a
fade-in ``alpha`` (progressive growing).

Images are (N, 3, R, R) float32 in [-1, 1]; the embedding is (N, embed_dim).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ...errors import InputError
from ..registry import register_model
from .domain_norm import DOMAINS, DomainNorm, domain_index

__all__ = ["TwinGAN", "resolutions"]

_SLOPE = 0.2


def resolutions(size: int) -> list[int]:
    """4, 8, ..., ``size`` (a power of two >= 8)."""
    return [4 * 2**i for i in range(int(math.log2(size // 4)) + 1)]


class _EncoderBlock(nn.Module):
    """(N, c_in, r, r) -> (N, c_out, r/2, r/2): two 3x3 convs with LeakyReLU, then 2x2 average pool."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(c_in, c_in, 3, padding=1), nn.Conv2d(c_in, c_out, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.leaky_relu(self.conv1(x), _SLOPE)
        return F.avg_pool2d(F.leaky_relu(self.conv2(x), _SLOPE), 2)


class _GeneratorBlock(nn.Module):
    """(N, c_in, r/2, r/2) [+ skip (N, c_skip, r, r)] -> (N, c_out, r, r): nearest x2 upsampling,
    concatenation of the skip, then two (3x3 conv, DomainNorm, LeakyReLU)."""

    def __init__(self, c_in: int, c_skip: int, c_out: int, norm: str) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in + c_skip, c_out, 3, padding=1)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.norm1, self.norm2 = DomainNorm(c_out, kind=norm), DomainNorm(c_out, kind=norm)
        self.c_skip = c_skip

    def forward(self, x: torch.Tensor, skip: torch.Tensor | None, domain: int) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        if self.c_skip:
            x = torch.cat([x, skip], dim=1)
        x = F.leaky_relu(self.norm1(self.conv1(x), domain), _SLOPE)
        return F.leaky_relu(self.norm2(self.conv2(x), domain), _SLOPE)


@register_model("twingan")
class TwinGAN(nn.Module):
    """Shared encoder + domain-conditioned progressive generator with U-Net skips.

    Args:
        size: full resolution S (a power of two, 8..1024).
        base_channels: channels at resolution S; each halving doubles them, up to ``max_channels``.
        embed_dim: length of the shared embedding.
        norm: "instance" or "batch" (the kind of every :class:`DomainNorm`).
        skip_max_res: the largest resolution that receives a U-Net skip (default S / 2: all but
            the output resolution; 0 for none). Skips keep pose and detail; a skip at the full
            resolution tends to let the generator copy the photo.

    ``forward(x, domain="style")`` is the translation (photo -> style by default): ``x`` (N, 3, S, S)
    -> (N, 3, S, S), so the file works with ``toonforge translate``. ``stride`` is S: the net only
    runs at its training size.
    """

    def __init__(self, size: int = 256, base_channels: int = 32, max_channels: int = 256, embed_dim: int = 256,
                 norm: str = "instance", skip_max_res: int | None = None) -> None:
        super().__init__()
        if size < 8 or size > 1024 or size & (size - 1):
            raise InputError(f"TwinGAN size must be a power of two in 8..1024, got {size}")
        if min(base_channels, max_channels, embed_dim) < 1:
            raise InputError("TwinGAN base_channels, max_channels and embed_dim must be positive")
        skip_max_res = size // 2 if skip_max_res is None else int(skip_max_res)
        self.size, self.stride, self.embed_dim = size, size, embed_dim
        self.res = resolutions(size)
        ch = {r: min(max_channels, base_channels * size // r) for r in self.res}
        self.channels = ch
        self.skip_res = {r for r in self.res[1:] if r <= skip_max_res}
        c4 = ch[4]
        # encoder (domain-free)
        self.from_rgb = nn.ModuleDict({str(r): nn.Conv2d(3, ch[r], 1) for r in self.res})
        self.down = nn.ModuleDict({str(r): _EncoderBlock(ch[r], ch[r // 2]) for r in self.res[1:]})
        self.enc_conv = nn.Conv2d(c4, c4, 3, padding=1)
        self.to_embedding = nn.Linear(c4 * 16, embed_dim)
        # generator (domain enters through the DomainNorms only)
        self.from_embedding = nn.Linear(embed_dim, c4 * 16)
        self.top_norm1, self.top_norm2 = DomainNorm(c4, kind=norm), DomainNorm(c4, kind=norm)
        self.top_conv = nn.Conv2d(c4, c4, 3, padding=1)
        self.up = nn.ModuleDict({str(r): _GeneratorBlock(ch[r // 2], ch[r] if r in self.skip_res else 0, ch[r], norm)
                                 for r in self.res[1:]})
        self.to_rgb = nn.ModuleDict({str(r): nn.Conv2d(ch[r], 3, 1) for r in self.res})

    # ---- checks ---------------------------------------------------------------------------------
    def _check(self, x: torch.Tensor, res: int) -> None:
        if res not in self.res:
            raise InputError(f"TwinGAN resolution must be one of {self.res}, got {res}")
        if x.ndim != 4 or x.shape[1] != 3 or x.shape[2] != res or x.shape[3] != res:
            raise InputError(f"TwinGAN (trained at {self.size} px) expects (N, 3, {res}, {res}) at resolution "
                             f"{res}, got {tuple(x.shape)}")

    # ---- the two halves -------------------------------------------------------------------------
    def encode(self, x: torch.Tensor, res: int | None = None, alpha: float = 1.0
               ) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
        """x (N, 3, res, res) in [-1, 1] -> (embedding (N, embed_dim), skips {r: (N, C_r, r, r)}).

        ``alpha`` < 1 fades the newest (``res``) input block in over the half-resolution one.
        """
        res = self.size if res is None else int(res)
        self._check(x, res)
        h = F.leaky_relu(self.from_rgb[str(res)](x), _SLOPE)
        skips: dict[int, torch.Tensor] = {}
        r = res
        while r > 4:
            if r in self.skip_res:
                skips[r] = h
            h = self.down[str(r)](h)
            if r == res and alpha < 1.0:
                low = F.leaky_relu(self.from_rgb[str(r // 2)](F.avg_pool2d(x, 2)), _SLOPE)
                h = alpha * h + (1.0 - alpha) * low
            r //= 2
        h = F.leaky_relu(self.enc_conv(h), _SLOPE)
        return self.to_embedding(h.flatten(1)), skips

    def decode(self, z: torch.Tensor, skips: dict[int, torch.Tensor], domain: int | str,
               res: int | None = None, alpha: float = 1.0) -> torch.Tensor:
        """Embedding (N, embed_dim) + skips -> image (N, 3, res, res) in [-1, 1] of ``domain``
        ("photo"/0 or "style"/1); ``alpha`` < 1 fades the newest output block in."""
        res = self.size if res is None else int(res)
        d = domain_index(domain, len(DOMAINS))
        g = self.from_embedding(z).view(z.shape[0], self.channels[4], 4, 4)
        g = F.leaky_relu(self.top_norm1(g, d), _SLOPE)
        g = F.leaky_relu(self.top_norm2(self.top_conv(g), d), _SLOPE)
        prev, r = g, 4
        while r < res:
            r *= 2
            prev, g = g, self.up[str(r)](g, skips.get(r), d)
        img = self.to_rgb[str(res)](g)
        if alpha < 1.0 and res > 4:
            low = F.interpolate(self.to_rgb[str(res // 2)](prev), scale_factor=2.0, mode="nearest")
            img = alpha * img + (1.0 - alpha) * low
        return torch.tanh(img)

    # ---- uses -----------------------------------------------------------------------------------
    def forward(self, x: torch.Tensor, domain: int | str = "style", res: int | None = None,
                alpha: float = 1.0) -> torch.Tensor:
        """Translate x (N, 3, res, res) in [-1, 1] into ``domain``: (N, 3, res, res) in [-1, 1]."""
        z, skips = self.encode(x, res, alpha)
        return self.decode(z, skips, domain, res, alpha)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The shared embedding of (N, 3, S, S) images of either domain: (N, embed_dim), unit length."""
        return F.normalize(self.encode(x)[0], dim=1)

    def domain_norms(self) -> list[DomainNorm]:
        """Every DomainNorm of the generator (where the domain switch lives)."""
        return [m for m in self.modules() if isinstance(m, DomainNorm)]
