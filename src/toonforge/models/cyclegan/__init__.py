"""CycleGAN (Zhu et al., ICCV 2017): the ResNet generator, the stage-2 baseline."""

from .resnet_generator import ResnetGenerator

__all__ = ["ResnetGenerator"]
