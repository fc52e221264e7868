"""U-GAT-IT (Kim et al., 2020): CAM attention and AdaLIN, light and full generators, plus the
mask-branch variant that keeps the photo's background."""

from .discriminator import UGATITDiscriminator, min_input_size
from .generator import GeneratorOutput, UGATITGenerator, composite
from .norms import ILN, AdaLIN, clip_rho, layer_instance_mix

__all__ = ["ILN", "AdaLIN", "GeneratorOutput", "UGATITDiscriminator", "UGATITGenerator",
           "clip_rho", "composite", "layer_instance_mix", "min_input_size"]
