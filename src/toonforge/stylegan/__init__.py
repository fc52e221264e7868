"""Stage-1 StyleGAN operations on trained generators: fusion (blend, layer swap, chain), style
mixing, and sampling into (paired) datasets with a manifest that regenerates any image.

Inversion and latent editing will live beside these; sampling already takes saved W+ codes
(:func:`sample_dataset` with ``latents=``), which is the Toonify path once faces are inverted.
"""

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
from .latents import RenderSettings, load_latents, render, seeded_draws
from .mixing import mix_codes, parse_layers
from .sampling import SampleReport, read_manifest, regenerate, sample_dataset

__all__ = [
    "RenderSettings",
    "SampleReport",
    "blend_generators",
    "blend_state_dicts",
    "chain_generators",
    "check_same_architecture",
    "constant_schedule",
    "layer_swap",
    "layer_weights",
    "load_latents",
    "mix_codes",
    "parse_layers",
    "read_manifest",
    "regenerate",
    "render",
    "sample_dataset",
    "seeded_draws",
    "sigmoid_schedule",
    "swap_schedule",
]
