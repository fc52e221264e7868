"""Discriminators shared by the trainers."""

from ..registry import register_model
from .patch import PatchDiscriminator

register_model("patch_discriminator")(PatchDiscriminator)

__all__ = ["PatchDiscriminator"]
