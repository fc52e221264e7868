"""U-Net texture translator (DCT-Net / White-box Cartoonization)."""

from .texture_unet import TextureUNet

__all__ = ["TextureUNet"]
