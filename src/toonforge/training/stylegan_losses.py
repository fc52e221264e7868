"""StyleGAN2 losses as small pure functions: non-saturating logistic loss, R1, path length.

All take raw discriminator logits (N, 1) (any shape works; means are over all elements) and
return scalar tensors. Lazy regularisation (scaling by the interval) is the caller's business.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = ["d_logistic_loss", "g_nonsaturating_loss", "path_length_penalty", "r1_penalty"]


def d_logistic_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """D's loss ``mean(softplus(-D(real))) + mean(softplus(D(fake)))``: 2 ln 2 at logits 0."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def g_nonsaturating_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """G's non-saturating loss ``mean(softplus(-D(G(z))))`` = ``-log sigmoid(D(G(z)))``."""
    return F.softplus(-fake_logits).mean()


def r1_penalty(real_logits: torch.Tensor, real_images: torch.Tensor) -> torch.Tensor:
    """R1 (Mescheder et al. 2018): ``mean_n ||d sum(D(real)) / d real_n||^2``, a scalar >= 0.

    real_images: (N, C, H, W) with ``requires_grad`` set before D saw them (augmentation in
    between is fine); real_logits: D's outputs computed from them. The graph is kept
    (``create_graph``) so the penalty can be backpropagated into D. A D that ignores its input
    gives exactly 0.
    """
    (grad,) = torch.autograd.grad(
        real_logits.sum(), real_images, create_graph=True, allow_unused=True
    )
    if grad is None:
        return real_logits.sum() * 0.0
    return grad.pow(2).flatten(1).sum(1).mean()


def path_length_penalty(
    images: torch.Tensor, ws: torch.Tensor, mean: float | torch.Tensor, decay: float = 0.01
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """StyleGAN2 path-length regulariser for generated ``images`` (N, C, H, W) from ``ws``.

    ws: the per-layer codes (N, num_ws, D) (or (N, D)) the images were synthesised from, part
    of the graph. With ``y`` Gaussian noise scaled by ``1/sqrt(H*W)``, the path length of
    sample n is ``sqrt(mean over layers of ||d sum(images * y) / d ws_n||^2)``.
    ``mean`` is the running mean of past lengths (0 to start); it moves toward this batch's
    mean by ``decay``. Returns ``(penalty, new_mean, lengths)``: penalty is the scalar
    ``mean((lengths - new_mean)^2)`` (differentiable into G), new_mean a detached scalar,
    lengths (N,) detached.
    """
    noise = torch.randn_like(images) / math.sqrt(images.shape[2] * images.shape[3])
    (grad,) = torch.autograd.grad((images * noise).sum(), ws, create_graph=True)
    if grad.ndim == 2:
        grad = grad.unsqueeze(1)
    lengths = grad.pow(2).sum(2).mean(1).sqrt()  # (N,)
    mean_t = torch.as_tensor(mean, dtype=lengths.dtype, device=lengths.device)
    new_mean = mean_t + decay * (lengths.mean().detach() - mean_t)
    penalty = (lengths - new_mean).pow(2).mean()
    return penalty, new_mean.detach(), lengths.detach()
