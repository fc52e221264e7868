"""The StyleGAN2 generator (config F, skip-RGB outputs) with rosinality-compatible state-dict keys.

``G.mapping(z) -> w`` and ``G.synthesis(ws) -> image`` are separate, as in NVlabs' code; the module
tree (``style``, ``input``, ``conv1``, ``to_rgb1``, ``convs``, ``to_rgbs``, ``noises``) reproduces the
parameter names and shapes of the public PyTorch checkpoints, so ``load_state_dict(strict=True)``
takes them as they are.

Per-layer codes: ``num_ws = 2 * log2(size) - 2``. Index 0 modulates ``conv1`` (4 px); an odd index
``2k+1`` modulates the RGB layer at ``2**(k+2)`` px and the upsampling conv to ``2**(k+3)`` px; an even
index ``2k`` (k >= 1) modulates the second conv at ``2**(k+2)`` px. :meth:`Generator.ws_modules` lists
this and :meth:`Generator.layer_resolutions` summarises it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from ..registry import register_model
from .layers import ConstantInput, EqualLinear, ModulatedConv2d, PixelNorm, StyledConv, ToRGB

INPUT_SPACES = ("z", "z+", "w", "w+")


def channel_table(size: int, channel_multiplier: int = 2, channel_max: int = 512) -> dict[int, int]:
    """Feature channels per resolution 4..size: 512 up to 32 px, then ``16384 * multiplier / res``
    (the published StyleGAN2 table), each capped at ``channel_max``."""
    table = {}
    res = 4
    while res <= size:
        base = 512 if res <= 32 else (16384 * channel_multiplier) // res
        table[res] = max(1, min(channel_max, base))
        res *= 2
    return table


def _check_size(size: int) -> int:
    log = int(math.log2(size)) if size > 0 else 0
    if size < 8 or size > 1024 or 2**log != size:
        raise ValueError(f"size must be a power of two from 8 to 1024, got {size}")
    return log


@register_model("stylegan2_generator")
class Generator(nn.Module):
    """StyleGAN2 generator: z (N, style_dim) ~ N(0, I) -> image (N, 3, size, size), roughly in [-1, 1].

    Args mirror rosinality's ``Generator``; ``channel_max`` caps every width (512 reproduces the
    published architecture for multipliers 1 and 2; small values give tiny test models; rosinality's
    uncapped widths for a multiplier of 4 need ``channel_max=1024``, which the loaders infer).
    ``conv_clamp`` (None: off) clamps every synthesis layer's output as NVlabs' snapshots trained with
    ``--cfg auto`` (256) expect.
    """

    def __init__(
        self, size: int, style_dim: int = 512, n_mlp: int = 8, channel_multiplier: int = 2,
        channel_max: int = 512, lr_mlp: float = 0.01, blur_kernel: Sequence[float] = (1, 3, 3, 1),
        conv_clamp: float | None = None,
    ) -> None:
        super().__init__()
        self.log_size = _check_size(size)
        clamp = None if conv_clamp is None else float(conv_clamp)
        self.size, self.style_dim, self.n_mlp = size, style_dim, n_mlp
        self.num_ws = self.log_size * 2 - 2
        self.num_layers = self.log_size * 2 - 3  # styled convs, one noise input each
        self.channels = channel_table(size, channel_multiplier, channel_max)
        ch = self.channels

        mlp = [EqualLinear(style_dim, style_dim, lr_mul=lr_mlp, activation=True) for _ in range(n_mlp)]
        self.style = nn.Sequential(PixelNorm(), *mlp)
        self.input = ConstantInput(ch[4])
        self.conv1 = StyledConv(ch[4], ch[4], 3, style_dim, blur_kernel=blur_kernel, conv_clamp=clamp)
        self.to_rgb1 = ToRGB(ch[4], style_dim, upsample=False, conv_clamp=clamp)
        self.convs = nn.ModuleList()
        self.to_rgbs = nn.ModuleList()
        self.noises = nn.Module()
        for i in range(self.num_layers):
            r = self.noise_resolution(i)
            self.noises.register_buffer(f"noise_{i}", torch.randn(1, 1, r, r))
        in_ch = ch[4]
        for log_res in range(3, self.log_size + 1):
            out_ch = ch[2**log_res]
            self.convs.append(StyledConv(in_ch, out_ch, 3, style_dim, upsample=True, blur_kernel=blur_kernel,
                                         conv_clamp=clamp))
            self.convs.append(StyledConv(out_ch, out_ch, 3, style_dim, blur_kernel=blur_kernel, conv_clamp=clamp))
            self.to_rgbs.append(ToRGB(out_ch, style_dim, blur_kernel=blur_kernel, conv_clamp=clamp))
            in_ch = out_ch
        # The average w for truncation; not saved in the state dict (rosinality keeps it beside it as
        # "latent_avg"). Loaders fill it; when unset, truncation computes mean_latent() on the fly.
        self.register_buffer("latent_avg", None, persistent=False)

    def set_fused_modconv(self, fused: bool) -> None:
        """Grouped per-sample weights (``True``, the default; best for small batches) or one shared
        weight with scaled activations (``False``; faster for large training batches). Same outputs."""
        for m in self.modules():
            if isinstance(m, ModulatedConv2d):
                m.fused = fused

    # ----- layout helpers (used by layer swapping, fusion and per-layer learning rates) -----

    @staticmethod
    def noise_resolution(i: int) -> int:
        """Resolution of noise input ``i`` (``noises.noise_{i}``): 4, 8, 8, 16, 16, ..."""
        return 2 ** ((i + 5) // 2)

    def ws_modules(self) -> list[list[str]]:
        """For each ws index, the module names it modulates (e.g. ``[["conv1"], ["to_rgb1", "convs.0"], ...]``)."""
        out: list[list[str]] = [["conv1"], ["to_rgb1", "convs.0"]]
        for k in range(1, self.log_size - 1):
            out.append([f"convs.{2 * k - 1}"])
            out.append([f"to_rgbs.{k - 1}"] + ([f"convs.{2 * k}"] if 2 * k < len(self.convs) else []))
        return out

    def layer_resolutions(self) -> list[int]:
        """Length ``num_ws``: the output resolution of the main conv each ws index modulates
        (4, 8, 8, 16, 16, ..., size, size, size); the last index only feeds the final RGB layer."""
        res = [self.param_resolution(names[-1] + ".") for names in self.ws_modules()]
        return [int(r) for r in res if r is not None]

    def param_resolution(self, key: str) -> int | None:
        """Output resolution of the layer a state-dict key belongs to; None for the mapping network
        (``style.*``) and anything global."""
        parts = key.split(".")
        head = parts[0]
        if head in ("input", "conv1", "to_rgb1"):
            return 4
        if head in ("convs", "to_rgbs") and len(parts) > 1 and parts[1].isdigit():
            j = int(parts[1])
            return 2 ** (j // 2 + 3) if head == "convs" else 2 ** (j + 3)
        if head == "noises" and len(parts) > 1 and parts[1].startswith("noise_"):
            return self.noise_resolution(int(parts[1][len("noise_"):]))
        return None

    # ----- latents -----

    def _device(self) -> torch.device:
        return self.input.input.device

    def sample_z(self, n: int, seed: int | None = None) -> torch.Tensor:
        """(n, style_dim) standard normal latents; reproducible for a given ``seed`` on any device."""
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        return torch.randn(n, self.style_dim, generator=gen).to(self._device())

    def make_noise(self, seed: int | None = None) -> list[torch.Tensor]:
        """A fresh list of ``num_layers`` noise maps, (1, 1, r, r) each; reproducible for a given seed."""
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        shapes = [self.noise_resolution(i) for i in range(self.num_layers)]
        return [torch.randn(1, 1, r, r, generator=gen).to(self._device()) for r in shapes]

    @torch.no_grad()
    def mean_latent(self, n: int = 4096, seed: int = 0) -> torch.Tensor:
        """The average w over ``n`` seeded samples: (1, style_dim)."""
        return self.style(self.sample_z(n, seed)).mean(dim=0, keepdim=True)

    def truncate(
        self, w: torch.Tensor, truncation: float = 1.0, truncation_latent: torch.Tensor | None = None,
        cutoff: int | None = None,
    ):
        """``avg + truncation * (w - avg)`` for w (N, D) or (N, num_ws, D); avg (1, D) defaults to
        ``latent_avg`` (set by the loaders) or a fresh :meth:`mean_latent`.

        ``cutoff`` (NVlabs' ``truncation_cutoff``) truncates only ws indices ``0 .. cutoff - 1``; the
        result is then W+ (N, num_ws, D)."""
        if truncation == 1:
            return w
        avg = truncation_latent
        if avg is None:
            avg = self.latent_avg if self.latent_avg is not None else self.mean_latent()
        avg = avg.to(w)
        if cutoff is None or cutoff >= self.num_ws:
            return avg + truncation * (w - avg)
        if cutoff < 0:
            raise ValueError(f"truncation cutoff must be >= 0, got {cutoff}")
        ws = self.to_wplus(w).clone()
        ws[:, :cutoff] = avg.unsqueeze(1) + truncation * (ws[:, :cutoff] - avg.unsqueeze(1))
        return ws

    def mapping(
        self, z: torch.Tensor, truncation: float = 1.0, truncation_latent: torch.Tensor | None = None
    ) -> torch.Tensor:
        """z (N, style_dim) -> w (N, style_dim): pixel norm then ``n_mlp`` leaky-ReLU layers, then truncation."""
        if z.ndim != 2 or z.shape[1] != self.style_dim:
            raise ValueError(f"z must be (N, {self.style_dim}), got {tuple(z.shape)}")
        return self.truncate(self.style(z), truncation, truncation_latent)

    def to_wplus(self, w: torch.Tensor) -> torch.Tensor:
        """W (N, D) -> W+ (N, num_ws, D) by repetition; W+ is returned as is (after a shape check)."""
        if w.ndim == 2 and w.shape[1] == self.style_dim:
            return w.unsqueeze(1).expand(-1, self.num_ws, -1)
        if w.ndim == 3 and w.shape[1:] == (self.num_ws, self.style_dim):
            return w
        d, n = self.style_dim, self.num_ws
        raise ValueError(f"ws must be (N, {d}) or (N, {n}, {d}), got {tuple(w.shape)}")

    def style_mix(self, w1: torch.Tensor, w2: torch.Tensor, layers: Sequence[int]) -> torch.Tensor:
        """W+ codes (N, num_ws, D) equal to ``w1`` except at ws indices ``layers``, which come from ``w2``.

        w1, w2: (N, D) or (N, num_ws, D) each (W inputs are repeated per layer).
        """
        idx = list(layers)
        if any(not 0 <= i < self.num_ws for i in idx):
            raise ValueError(f"style_mix layers must lie in 0..{self.num_ws - 1}, got {idx}")
        out = self.to_wplus(w1).clone()
        out[:, idx] = self.to_wplus(w2)[:, idx].to(out)
        return out

    # ----- synthesis -----

    def synthesis(
        self, ws: torch.Tensor, noise: Sequence[torch.Tensor | None] | None = None, randomize_noise: bool = True,
        return_rgb_layers: bool = False,
    ):
        """ws (N, D) for W or (N, num_ws, D) for W+ -> image (N, 3, size, size), roughly in [-1, 1].

        noise: ``num_layers`` maps (1 or N, 1, r, r) (see :meth:`make_noise`); None means fresh random
        noise with ``randomize_noise`` and the stored ``noises.noise_{i}`` buffers without it.
        With ``return_rgb_layers`` also returns the list of partial RGB images at 4, 8, ..., size px.
        """
        ws = self.to_wplus(ws)
        if noise is None:
            noise = [None] * self.num_layers if randomize_noise else [
                getattr(self.noises, f"noise_{i}") for i in range(self.num_layers)
            ]
        if len(noise) != self.num_layers:
            raise ValueError(f"noise must hold {self.num_layers} maps, got {len(noise)}")
        x = self.conv1(self.input(ws.shape[0]), ws[:, 0], noise[0])
        rgb = self.to_rgb1(x, ws[:, 1])
        rgbs = [rgb]
        for k in range(len(self.to_rgbs)):
            x = self.convs[2 * k](x, ws[:, 2 * k + 1], noise[2 * k + 1])
            x = self.convs[2 * k + 1](x, ws[:, 2 * k + 2], noise[2 * k + 2])
            rgb = self.to_rgbs[k](x, ws[:, 2 * k + 3], rgb)
            rgbs.append(rgb)
        return (rgb, rgbs) if return_rgb_layers else rgb

    def forward(
        self, latent: torch.Tensor | Sequence[torch.Tensor], input_space: str = "z", truncation: float = 1.0,
        truncation_latent: torch.Tensor | None = None, noise: Sequence[torch.Tensor | None] | None = None,
        randomize_noise: bool = True, truncation_cutoff: int | None = None,
    ) -> torch.Tensor:
        """latent -> image (N, 3, size, size).

        input_space: "z" (N, D); "z+" (N, num_ws, D), each layer's z mapped separately; "w" (N, D);
        "w+" (N, num_ws, D). A list of ``num_ws`` tensors (N, D) is stacked into z+ / w+.
        Truncation (toward ``truncation_latent``) is applied in W for every input space; with
        ``truncation_cutoff`` only to the first that many ws indices (see :meth:`truncate`).
        """
        if input_space not in INPUT_SPACES:
            raise ValueError(f"input_space must be one of {', '.join(INPUT_SPACES)}, got {input_space!r}")
        if isinstance(latent, (list, tuple)):
            latent = torch.stack(list(latent), dim=1)
            input_space = input_space.rstrip("+") + "+"
        if input_space == "z":
            ws = self.mapping(latent)
        elif input_space == "z+":
            if latent.ndim != 3 or latent.shape[1:] != (self.num_ws, self.style_dim):
                raise ValueError(f"z+ must be (N, {self.num_ws}, {self.style_dim}), got {tuple(latent.shape)}")
            ws = self.mapping(latent.reshape(-1, self.style_dim)).reshape(latent.shape)
        else:
            ws = self.to_wplus(latent) if input_space == "w+" else latent
            if input_space == "w" and (latent.ndim != 2 or latent.shape[1] != self.style_dim):
                raise ValueError(f"w must be (N, {self.style_dim}), got {tuple(latent.shape)}")
        ws = self.truncate(ws, truncation, truncation_latent, truncation_cutoff)
        return self.synthesis(ws, noise=noise, randomize_noise=randomize_noise)
