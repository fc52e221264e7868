"""CartoonGAN edge-promoting loss: teach the discriminator that blurred outlines are fake.

Real cartoons have crisp outlines. ``edge_smooth`` blurs the pixels around a cartoon's edges;
the discriminator is trained to call such images fake, which pushes the generator to draw
clear edges (Chen et al., CartoonGAN, CVPR 2018).
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from toonforge.errors import InputError
from toonforge.losses.adversarial import Logits, d_fake_loss, d_real_loss


def edge_smooth(rgb: np.ndarray, kernel_size: int = 5, canny_low: int = 100,
                canny_high: int = 200) -> np.ndarray:
    """Blur a cartoon only around its edges.

    rgb: (H, W, 3) uint8 RGB. Canny edges of the grey image are dilated with a
    ``kernel_size`` square; inside that band pixels are replaced by a Gaussian-blurred
    (``kernel_size`` x ``kernel_size``) copy, elsewhere they are kept bit-exact.
    Returns a new (H, W, 3) uint8 array.
    """
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise InputError(f"edge_smooth expects (H, W, 3) uint8, got {rgb.shape} {rgb.dtype}")
    k = max(1, int(kernel_size)) | 1  # odd
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    edges = cv2.Canny(grey, canny_low, canny_high)
    band = cv2.dilate(edges, np.ones((k, k), np.uint8)) > 0
    blurred = cv2.GaussianBlur(rgb, (k, k), 0, borderType=cv2.BORDER_REFLECT_101)
    out = rgb.copy()
    out[band] = blurred[band]
    return out


def edge_smooth_tensor(x: torch.Tensor, kernel_size: int = 5) -> torch.Tensor:
    """Batched ``edge_smooth`` for tensors (data side only, no gradient).

    x: (N, 3, H, W) float in [-1, 1]. Returns the same shape, dtype and device, in [-1, 1]
    (quantised to 8 bits by the round trip through uint8).
    """
    if x.ndim != 4 or x.shape[1] != 3:
        raise InputError(f"edge_smooth_tensor expects (N, 3, H, W), got {tuple(x.shape)}")
    with torch.no_grad():
        imgs = ((x.detach().float().clamp(-1, 1) + 1.0) * 127.5).round().to(torch.uint8)
        arr = imgs.permute(0, 2, 3, 1).cpu().numpy()
        out = np.stack([edge_smooth(np.ascontiguousarray(a), kernel_size) for a in arr])
        y = torch.from_numpy(out).permute(0, 3, 1, 2).float() / 127.5 - 1.0
    return y.to(device=x.device, dtype=x.dtype)


def edge_promoting_d_loss(real_logits: Logits, fake_logits: Logits, smoothed_logits: Logits,
                          kind: str = "lsgan") -> torch.Tensor:
    """Discriminator loss with edge-smoothed targets counted as fake.

    ``d_real(D(target)) + d_fake(D(generated)) + d_fake(D(edge_smooth(target)))``.
    Each argument: logits tensor of any shape, or a list of per-scale tensors; kind as in
    ``toonforge.losses.adversarial``. Returns a scalar.
    """
    return (d_real_loss(real_logits, kind) + d_fake_loss(fake_logits, kind)
            + d_fake_loss(smoothed_logits, kind))
