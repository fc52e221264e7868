"""StyleGAN2 in plain PyTorch: generator, discriminator, rosinality-layout checkpoints, NVlabs converter.

``Generator`` and ``Discriminator`` are registered as ``stylegan2_generator`` and
``stylegan2_discriminator``. Loading and saving live in :mod:`.checkpoint`; the NVlabs ``.pkl``
converter in :mod:`.nvlabs` (imported lazily by the loaders).
"""

from .checkpoint import infer_generator_config, load_discriminator, load_generator, save_discriminator, save_generator
from .discriminator import Discriminator, minibatch_stddev
from .generator import INPUT_SPACES, Generator, channel_table

__all__ = [
    "INPUT_SPACES",
    "Discriminator",
    "Generator",
    "channel_table",
    "infer_generator_config",
    "load_discriminator",
    "load_generator",
    "minibatch_stddev",
    "save_discriminator",
    "save_generator",
]
