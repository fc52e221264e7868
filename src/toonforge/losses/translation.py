"""Losses of the unpaired translators (U-GAT-IT and its background-keeping variants).

Images are (N, C, H, W) in [-1, 1]; masks are (N, 1, H, W) in [0, 1] with 1 = face/hair
(the region to stylize) and 0 = background. Every function returns a scalar tensor. The
adversarial terms use :mod:`toonforge.losses.adversarial` (kind ``"lsgan"`` for U-GAT-IT).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..errors import InputError
from .pixel import total_variation

__all__ = ["background_loss", "cam_loss", "cycle_loss", "identity_loss", "mask_regularizer"]


def cycle_loss(reconstructed: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """Mean L1 between ``G_BA(G_AB(real))`` and ``real`` (same shapes)."""
    return F.l1_loss(reconstructed, real)


def identity_loss(same_domain: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """Mean L1 between ``G_AB(real_B)`` and ``real_B``: a generator fed an image already in its
    target domain should leave it alone (keeps colours and content)."""
    return F.l1_loss(same_domain, real)


def cam_loss(source_logit: torch.Tensor, target_logit: torch.Tensor) -> torch.Tensor:
    """The generator's CAM classifier loss (BCE with logits).

    source_logit: (N, 2) CAM logits of the generator on images of its *source* domain
    (target 1); target_logit: (N, 2) on images already in its *target* domain (target 0).
    """
    return (F.binary_cross_entropy_with_logits(source_logit, torch.ones_like(source_logit))
            + F.binary_cross_entropy_with_logits(target_logit, torch.zeros_like(target_logit)))


def _check_mask(image: torch.Tensor, mask: torch.Tensor) -> None:
    if mask.ndim != 4 or mask.shape[1] != 1 or mask.shape[0] != image.shape[0] \
            or mask.shape[2:] != image.shape[2:]:
        raise InputError(f"mask must be (N, 1, H, W) matching the image {tuple(image.shape)}, "
                         f"got {tuple(mask.shape)}")


def background_loss(output: torch.Tensor, inputs: torch.Tensor, mask: torch.Tensor,
                    eps: float = 1e-6) -> torch.Tensor:
    """L1 between output and input outside the face/hair mask, per background pixel.

    ``sum(|output - inputs| * (1 - mask)) / (C * sum(1 - mask))`` over the whole batch: the
    mean absolute difference on the background, independent of how big the background is.
    0 when the output equals the input wherever ``mask < 1``; 0 when there is no background.
    """
    _check_mask(output, mask)
    weight = 1.0 - mask
    diff = (output - inputs).abs() * weight
    return diff.sum() / (weight.sum() * output.shape[1] + eps)


def mask_regularizer(mask: torch.Tensor, tv_weight: float = 1.0) -> torch.Tensor:
    """Keeps a predicted blend mask small and smooth: ``mean(mask) + tv_weight * TV(mask)``.

    The mean pulls the mask toward 0 (keep the input) everywhere the adversarial loss does not
    need stylization; the total variation term discourages speckle, so the mask forms regions.
    mask: (N, 1, H, W) in [0, 1]. 0 for an all-zero mask.
    """
    return mask.mean() + tv_weight * total_variation(mask)
