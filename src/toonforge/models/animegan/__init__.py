"""AnimeGANv2's generator in the PyTorch layout of the public face-paint checkpoints."""

from .generator import AnimeGANv2Generator

__all__ = ["AnimeGANv2Generator"]
