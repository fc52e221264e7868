"""TwinGAN's four losses (``reference/003_*``) as small pure functions.

1. photo -> photo reconstruction: L1 + GAN (the photo discriminator judges the reconstruction);
2. style -> style reconstruction: L1 + GAN (the style discriminator);
3. photo -> style translation: GAN (the style discriminator);
4. photo -> style -> photo cycle: L1.

Images are (N, 3, H, W) in [-1, 1]; logits are what :mod:`~.adversarial` accepts (a tensor or
a list of per-scale tensors). Every function returns unweighted scalar terms by name, so a
trainer applies its own ``--lambda-*`` weights and logs each term.
"""

from __future__ import annotations

import torch

from .adversarial import Logits, d_fake_loss, d_real_loss, g_loss
from .pixel import l1_loss
from .translation import cycle_loss

__all__ = ["twin_discriminator_terms", "twin_generator_terms"]


def twin_generator_terms(photo: torch.Tensor, style: torch.Tensor, photo_rec: torch.Tensor,
                         style_rec: torch.Tensor, photo_cycle: torch.Tensor, logits_photo_rec: Logits,
                         logits_style_rec: Logits, logits_translated: Logits, kind: str = "lsgan"
                         ) -> dict[str, torch.Tensor]:
    """The generator's terms, unweighted.

    photo, style: real images; photo_rec / style_rec: their reconstructions (same domain);
    photo_cycle: the photo translated to style and back; logits_*: the discriminators' logits
    on photo_rec (photo D), style_rec (style D) and the photo -> style translation (style D).
    Returns ``rec_photo``, ``rec_style`` (L1), ``gan_rec_photo``, ``gan_rec_style``,
    ``gan_translate`` (generator GAN losses of ``kind``) and ``cycle`` (L1).
    """
    return {
        "rec_photo": l1_loss(photo_rec, photo),
        "rec_style": l1_loss(style_rec, style),
        "gan_rec_photo": g_loss(logits_photo_rec, kind),
        "gan_rec_style": g_loss(logits_style_rec, kind),
        "gan_translate": g_loss(logits_translated, kind),
        "cycle": cycle_loss(photo_cycle, photo),
    }


def twin_discriminator_terms(real_photo: Logits, real_style: Logits, fake_photo_rec: Logits,
                             fake_style_rec: Logits, fake_translated: Logits, kind: str = "lsgan"
                             ) -> dict[str, torch.Tensor]:
    """The discriminators' terms: ``D_photo`` = real photos vs photo reconstructions;
    ``D_style`` = real style images vs the mean of its two fakes (style reconstructions and
    photo -> style translations), so both fakes weigh as much as the reals. Logits of fakes
    must come from detached images."""
    fakes = 0.5 * (d_fake_loss(fake_style_rec, kind) + d_fake_loss(fake_translated, kind))
    return {"D_photo": d_real_loss(real_photo, kind) + d_fake_loss(fake_photo_rec, kind),
            "D_style": d_real_loss(real_style, kind) + fakes}
