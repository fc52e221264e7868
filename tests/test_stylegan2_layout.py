"""StyleGAN2 against the published architecture: parameter counts of the 1024 px networks and the
rosinality state-dict layout (keys and shapes). Shapes only: the networks are built on the meta device."""

from __future__ import annotations

import torch

from toonforge.models.stylegan2 import Discriminator, Generator


def _count(module):
    # Trainable parameters: every state-dict tensor except the noise maps and blur kernels (buffers).
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def test_parameter_counts_match_the_published_1024_model():
    with torch.device("meta"):  # shapes only: no memory, no init cost
        G, D = Generator(1024), Discriminator(1024)
    # Generator (style_dim 512, 8 MLP layers, channels 512 up to 64 px, then 256/128/64/32):
    #   mapping 8 * (512*512 + 512)                                            =  2,101,248
    #   const 512*4*4                                                          =      8,192
    #   StyledConv(i, o) = 9*i*o (weight) + 512*i + i (modulation) + 1 (noise) + o (bias)
    #   ToRGB(i)         = 3*i (weight) + 512*i + i (modulation) + 3 (bias)    = 516*i + 3
    #   4 px: StyledConv(512, 512) + ToRGB(512) = 2,622,465 + 264,195          =  2,886,660
    #   8..64 px, each 2*StyledConv(512, 512) + ToRGB(512) = 5,509,125, x4     = 22,036,500
    #   128: SC(512,256) 1,442,561 + SC(256,256) 721,409 + RGB 132,099          =  2,296,069
    #   256: SC(256,128)   426,369 + SC(128,128) 213,249 + RGB  66,051          =    705,669
    #   512: SC(128, 64)   139,457 + SC( 64, 64)  69,761 + RGB  33,027          =    242,245
    #   1024: SC(64, 32)    51,297 + SC( 32, 32)  25,665 + RGB  16,515          =     93,477
    #   total                                                                  = 30,370,060 (published: 30.37M)
    assert _count(G) == 30_370_060
    # Discriminator: fromRGB 3*32 + 32 = 128; ResBlock(i, o) = 9*i*i + i + 9*i*o + o + i*o (skip)
    #   1024 (32->64): 9,248 + 18,496 + 2,048 = 29,792     512 (64->128): 36,928 + 73,856 + 8,192 = 118,976
    #   256 (128->256): 147,584 + 295,168 + 32,768 = 475,520
    #   128 (256->512): 590,080 + 1,180,160 + 131,072 = 1,901,312
    #   64, 32, 16, 8 (512->512): 4 * (2,359,808 * 2 + 262,144) = 19,927,040
    #   final_conv 513*512*9 + 512 = 2,364,416; final_linear 8192*512 + 512 = 4,194,816; out 512 + 1 = 513
    #   total = 29,012,513 (published: 29.0M)
    assert _count(D) == 29_012_513
    # Every state-dict tensor that is not a parameter is a blur kernel or a noise map.
    params = dict(G.named_parameters())
    assert all(k.endswith(".kernel") or k.startswith("noises.") for k in G.state_dict() if k not in params)


# The rosinality stylegan2-pytorch layout for Generator(32, 512, 8, channel_multiplier=2) and
# Discriminator(32): key and shape, as those classes register them (mapping in style.1..8 after
# PixelNorm at style.0; blur taps of upsampling convs scaled by 4; noise maps as buffers).
G32_KEYS = """
style.{1..8}.weight 512,512 | style.{1..8}.bias 512 | input.input 1,512,4,4
conv1.conv.weight 1,512,512,3,3 | conv1.conv.modulation.weight 512,512 | conv1.conv.modulation.bias 512
conv1.noise.weight 1 | conv1.activate.bias 512
to_rgb1.conv.weight 1,3,512,1,1 | to_rgb1.conv.modulation.weight 512,512 | to_rgb1.conv.modulation.bias 512
to_rgb1.bias 1,3,1,1
convs.{0..5}.conv.weight 1,512,512,3,3 | convs.{0..5}.conv.modulation.weight 512,512
convs.{0..5}.conv.modulation.bias 512 | convs.{0..5}.noise.weight 1 | convs.{0..5}.activate.bias 512
convs.0.conv.blur.kernel 4,4 | convs.2.conv.blur.kernel 4,4 | convs.4.conv.blur.kernel 4,4
to_rgbs.{0..2}.conv.weight 1,3,512,1,1 | to_rgbs.{0..2}.conv.modulation.weight 512,512
to_rgbs.{0..2}.conv.modulation.bias 512 | to_rgbs.{0..2}.bias 1,3,1,1 | to_rgbs.{0..2}.upsample.kernel 4,4
noises.noise_0 1,1,4,4 | noises.noise_1 1,1,8,8 | noises.noise_2 1,1,8,8 | noises.noise_3 1,1,16,16
noises.noise_4 1,1,16,16 | noises.noise_5 1,1,32,32 | noises.noise_6 1,1,32,32
"""
D32_KEYS = """
convs.0.0.weight 512,3,1,1 | convs.0.1.bias 512
convs.{1..3}.conv1.0.weight 512,512,3,3 | convs.{1..3}.conv1.1.bias 512 | convs.{1..3}.conv2.0.kernel 4,4
convs.{1..3}.conv2.1.weight 512,512,3,3 | convs.{1..3}.conv2.2.bias 512 | convs.{1..3}.skip.0.kernel 4,4
convs.{1..3}.skip.1.weight 512,512,1,1
final_conv.0.weight 512,513,3,3 | final_conv.1.bias 512
final_linear.0.weight 512,8192 | final_linear.0.bias 512 | final_linear.1.weight 1,512 | final_linear.1.bias 1
"""


def _expand(table: str) -> dict[str, tuple[int, ...]]:
    out = {}
    for item in table.replace("\n", "|").split("|"):
        if not item.strip():
            continue
        key, shape = item.split()
        dims = tuple(int(s) for s in shape.split(","))
        if "{" in key:
            head, rest = key.split("{")
            span, tail = rest.split("}")
            lo, hi = (int(s) for s in span.split(".."))
            out.update({f"{head}{i}{tail}": dims for i in range(lo, hi + 1)})
        else:
            out[key] = dims
    return out


def test_state_dict_keys_match_the_published_layout():
    with torch.device("meta"):
        G, D = Generator(32, 512, 8, channel_multiplier=2), Discriminator(32, channel_multiplier=2)
    got_g = {k: tuple(v.shape) for k, v in G.state_dict().items()}
    got_d = {k: tuple(v.shape) for k, v in D.state_dict().items()}
    assert got_g == _expand(G32_KEYS)
    assert got_d == _expand(D32_KEYS)
