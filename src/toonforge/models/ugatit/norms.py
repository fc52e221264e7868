"""Layer-instance normalisation for U-GAT-IT: ILN (own affine) and AdaLIN (affine from an MLP).

Both normalise a feature map twice, once per channel over space (instance norm, IN) and once
over channels and space together (layer norm, LN), and blend the two with a learnable per-
channel ratio ``rho`` in [0, 1]: ``rho * IN(x) + (1 - rho) * LN(x)``. ``rho`` near 1 keeps
local contrast (texture), near 0 keeps global structure. The optimizer does not know the
bound, so trainers call :func:`clip_rho` after every generator step.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["AdaLIN", "ILN", "clip_rho", "layer_instance_mix"]


def layer_instance_mix(x: torch.Tensor, rho: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """``rho * IN(x) + (1 - rho) * LN(x)`` without affine parameters.

    x: (N, C, H, W) float; rho: broadcastable to (N, C, 1, 1), values in [0, 1].
    Variances are biased (divide by the element count). Returns (N, C, H, W).
    """
    var_in, mean_in = torch.var_mean(x, dim=(2, 3), keepdim=True, correction=0)
    var_ln, mean_ln = torch.var_mean(x, dim=(1, 2, 3), keepdim=True, correction=0)
    x_in = (x - mean_in) * torch.rsqrt(var_in + eps)
    x_ln = (x - mean_ln) * torch.rsqrt(var_ln + eps)
    return rho * x_in + (1.0 - rho) * x_ln


class ILN(nn.Module):
    """Layer-instance norm with learnable ``rho`` (init 0: pure LN), ``gamma`` (1), ``beta`` (0).

    forward: (N, C, H, W) -> (N, C, H, W).
    """

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.rho = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.gamma = nn.Parameter(torch.ones(1, channels, 1, 1))
        self.beta = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return layer_instance_mix(x, self.rho, self.eps) * self.gamma + self.beta


class AdaLIN(nn.Module):
    """Adaptive layer-instance norm: learnable ``rho`` (init 0.9), affine given per sample.

    forward: x (N, C, H, W), gamma (N, C), beta (N, C) -> (N, C, H, W).
    """

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.rho = nn.Parameter(torch.full((1, channels, 1, 1), 0.9))

    def forward(self, x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
        y = layer_instance_mix(x, self.rho, self.eps)
        return y * gamma[:, :, None, None] + beta[:, :, None, None]


@torch.no_grad()
def clip_rho(module: nn.Module) -> None:
    """Clamp the ``rho`` of every :class:`ILN` / :class:`AdaLIN` inside ``module`` to [0, 1]."""
    for m in module.modules():
        if isinstance(m, (ILN, AdaLIN)):
            m.rho.clamp_(0.0, 1.0)
