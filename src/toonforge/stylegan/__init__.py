"""Stage-1 StyleGAN operations on trained generators: fusion (blend, layer swap, chain), style
mixing, sampling into (paired) datasets with a manifest that regenerates any image, inversion of
photos (optimization in W / W+, AgileGAN's Z+ encoder in :mod:`.encoder`) and latent editing.

Inverted codes feed :func:`sample_dataset` (``latents=``): the Toonify path.
"""

from .editing import Direction, edit, fit_direction, fuse, load_direction, read_labels, save_direction, yaw_labels
from .fusion import (
    blend_generators,
    blend_state_dicts,
    chain_generators,
    check_same_architecture,
    constant_schedule,
    layer_swap,
    layer_weights,
    sigmoid_schedule,
    swap_schedule,
)
from .inversion import InversionResult, invert_optimize
from .latents import RenderSettings, load_latents, render, seeded_draws
from .mixing import mix_codes, parse_layers
from .sampling import SampleReport, read_manifest, regenerate, sample_dataset

__all__ = [
    "Direction",
    "InversionResult",
    "RenderSettings",
    "SampleReport",
    "blend_generators",
    "blend_state_dicts",
    "chain_generators",
    "check_same_architecture",
    "constant_schedule",
    "edit",
    "fit_direction",
    "fuse",
    "invert_optimize",
    "layer_swap",
    "layer_weights",
    "load_direction",
    "load_latents",
    "mix_codes",
    "parse_layers",
    "read_labels",
    "read_manifest",
    "regenerate",
    "render",
    "sample_dataset",
    "save_direction",
    "seeded_draws",
    "sigmoid_schedule",
    "swap_schedule",
    "yaw_labels",
]
