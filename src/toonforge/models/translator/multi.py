"""One translator, many styles: every normalisation's scale and shift chosen by a style vector.

The idea of conditional instance normalisation (Dumoulin, Shlens and Kudlur, "A Learned
Representation for Artistic Style", 2017): a style lives in the per-channel affine parameters
that follow each normalisation, while the convolutions are shared. Here every BatchNorm of a
:class:`~.network.Translator` keeps its statistics (shared by all styles) and gets one row of
scales and one row of shifts per style; a style vector ``w`` (non-negative, summing to 1) picks
``gamma = w @ style_weight`` and ``beta = w @ style_bias``. A one-hot ``w`` is exactly that style;
a convex mix blends the styles inside the network, layer by layer (the "style mix knob").

At inference the cost over the single-style tier is one per-channel multiply-add per
normalisation (BatchNorm with frozen statistics folds into the preceding convolution either way),
and the ONNX graph takes the style vector as a second input.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..registry import register_model
from .network import STRIDE, Translator


class StyleBatchNorm(nn.BatchNorm2d):
    """BatchNorm2d whose affine parameters are rows of per-style tables.

    ``style_weight`` and ``style_bias``: (S, C). Before a forward pass the owner sets
    :attr:`style` to an (S,) or (N, S) tensor of style weights; input (N, C, H, W) -> same shape.
    """

    def __init__(self, num_features: int, n_styles: int) -> None:
        super().__init__(num_features, affine=False)
        self.style_weight = nn.Parameter(torch.ones(n_styles, num_features))
        self.style_bias = nn.Parameter(torch.zeros(n_styles, num_features))
        self.style: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.style is None:
            raise RuntimeError("StyleBatchNorm: the owner sets .style before calling")
        y = super().forward(x)
        w = self.style if self.style.ndim == 2 else self.style.unsqueeze(0)  # (N or 1, S)
        gamma = (w @ self.style_weight)[:, :, None, None]
        beta = (w @ self.style_bias)[:, :, None, None]
        return y * gamma + beta


def _replace_norms(module: nn.Module, n_styles: int) -> None:
    for name, child in module.named_children():
        if isinstance(child, nn.BatchNorm2d):
            norm = StyleBatchNorm(child.num_features, n_styles)
            norm.style_weight.data.copy_(child.weight.data.expand(n_styles, -1))  # zero-init scales stay zero
            norm.style_bias.data.copy_(child.bias.data.expand(n_styles, -1))
            setattr(module, name, norm)
        else:
            _replace_norms(child, n_styles)


@register_model("translator-multi")
class MultiStyleTranslator(nn.Module):
    """Photo + style weights -> stylized image.

    forward: x (N, 3, H, W) float in [-1, 1], H and W multiples of 16; style (S,) for the whole
    batch or (N, S) per image, non-negative weights (convex mixes give blends; the caller
    normalises them to sum 1) -> (N, 3, H, W) in [-1, 1]. ``styles`` names the S styles in order.
    """

    stride = STRIDE

    def __init__(self, styles: Sequence[str] = ("a", "b"), tier: str = "small",
                 in_channels: int = 3, out_channels: int = 3) -> None:
        super().__init__()
        styles = list(styles)
        if len(styles) < 2 or len(set(styles)) != len(styles):
            raise ValueError(f"a multi-style translator needs two or more distinct style names, got {styles}")
        self.styles = styles
        self.net = Translator(tier, in_channels, out_channels)
        _replace_norms(self.net, len(styles))
        self._norms = [m for m in self.net.modules() if isinstance(m, StyleBatchNorm)]

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        if not torch.jit.is_tracing() and not torch.onnx.is_in_onnx_export():
            s = len(self.styles)
            if style.shape[-1] != s or style.ndim not in (1, 2) or (style.ndim == 2 and style.shape[0] != x.shape[0]):
                raise ValueError(f"style weights must have shape ({s},) or (N, {s}), got {tuple(style.shape)}")
        style = style.to(x.dtype)
        for norm in self._norms:
            norm.style = style
        try:
            return self.net(x)
        finally:
            for norm in self._norms:
                norm.style = None

    def one_hot(self, name: str, batch: int | None = None) -> torch.Tensor:
        """The style vector of one named style: (S,), or (batch, S)."""
        w = F.one_hot(torch.tensor(self.styles.index(name)), len(self.styles)).float()
        return w if batch is None else w.expand(batch, -1)


def multi_state_from_single(model: MultiStyleTranslator, state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A single-style translator's state dict (same tier) as ``model``'s, every style starting as it.

    Convolutions and BatchNorm statistics are copied; each BatchNorm's ``weight`` and ``bias``
    become every row of the style tables. Missing or extra keys are left to the strict load.
    """
    n = len(model.styles)
    out: dict[str, torch.Tensor] = {}
    norms = {name for name, m in model.net.named_modules() if isinstance(m, StyleBatchNorm)}
    for key, value in state.items():
        prefix, _, leaf = key.rpartition(".")
        if prefix in norms and leaf in ("weight", "bias"):
            out[f"net.{prefix}.style_{leaf}"] = value.expand(n, -1).clone()
        else:
            out[f"net.{key}"] = value
    return out
