"""Discriminators shared by the trainers."""

from ..registry import register_model
from .patch import PatchDiscriminator
from .projected import ProjectedDiscriminator

register_model("patch_discriminator")(PatchDiscriminator)
register_model("projected_discriminator", exclude=("backbone",))(ProjectedDiscriminator)

__all__ = ["PatchDiscriminator", "ProjectedDiscriminator"]
