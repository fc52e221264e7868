"""DCT-Net / White-box representations: guided filter identities, colour shift range, TV."""

from __future__ import annotations

import pytest
import torch

from toonforge.errors import InputError
from toonforge.losses.pixel import total_variation
from toonforge.losses.texture import (
    box_mean,
    color_shift,
    guided_filter,
    random_grey_weights,
    surface_representation,
    texture_representation,
)


def _image(seed: int = 0, n: int = 2, size: int = 16) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, size, size, generator=g) * 2 - 1


def test_box_mean_keeps_constants_and_radius_zero():
    const = torch.full((1, 2, 9, 7), 0.3)
    torch.testing.assert_close(box_mean(const, 3), const)  # borders too: only inside pixels count
    x = _image()
    assert box_mean(x, 0) is x
    with pytest.raises(InputError, match="radius"):
        box_mean(x, -1)


def test_guided_filter_of_a_constant_is_that_constant():
    const = torch.full((2, 3, 12, 12), -0.4)
    guide = _image(size=12)
    torch.testing.assert_close(guided_filter(guide, const, radius=3, eps=0.1), const)
    torch.testing.assert_close(surface_representation(const), const)


def test_guided_filter_identity_cases():
    x = _image(1)
    # radius 0: every window is one pixel, the fit is exact for any eps
    torch.testing.assert_close(guided_filter(x, x, radius=0, eps=0.5), x)
    # self-guided with eps -> 0: a = 1, b = 0 in every window
    torch.testing.assert_close(guided_filter(x, x, radius=2, eps=1e-8), x, atol=1e-3, rtol=0)
    torch.testing.assert_close(guided_filter(x, x, radius=2, eps=0.0), x, atol=1e-4, rtol=0)


def test_guided_filter_smooths_and_is_differentiable():
    x = _image(2).requires_grad_(True)
    y = surface_representation(x, radius=2, eps=0.2)
    assert y.shape == x.shape and total_variation(y, power=2) < total_variation(x.detach(), power=2)
    y.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    with pytest.raises(InputError, match="same shape"):
        guided_filter(x, x[:, :1], 2, 0.1)
    with pytest.raises(InputError, match="eps"):
        guided_filter(x, x, 2, -1.0)


def test_color_shift_is_one_channel_in_range():
    x = _image(3, n=4)
    g = torch.Generator().manual_seed(0)
    grey = texture_representation(x, generator=g)
    assert grey.shape == (4, 1, 16, 16)
    assert grey.min() >= -1 and grey.max() <= 1
    ones = torch.ones(4, 3, 16, 16)
    torch.testing.assert_close(texture_representation(ones), ones[:, :1])  # weights sum to 1
    w = random_grey_weights(1000, torch.Generator().manual_seed(1))
    torch.testing.assert_close(w.sum(1), torch.ones(1000))
    assert (w[:, 1] > w[:, 0]).all() and w[:, 0].mean() > w[:, 2].mean()  # green > red > blue
    w1 = random_grey_weights(3, torch.Generator().manual_seed(5))
    assert torch.equal(w1, random_grey_weights(3, torch.Generator().manual_seed(5)))
    with pytest.raises(InputError, match="3 channels"):
        color_shift(x[:, :2], w1[:4])
    with pytest.raises(InputError, match="weights"):
        color_shift(x, w1)


def test_total_variation():
    assert float(total_variation(torch.full((2, 3, 8, 8), 0.7), power=2)) == 0.0
    ramp = torch.arange(8.0).view(1, 1, 1, 8).expand(1, 1, 8, 8)
    assert float(total_variation(ramp, power=2)) == pytest.approx(1.0)  # only horizontal steps of 1
    assert float(total_variation(torch.zeros(1, 1, 1, 1), power=2)) == 0.0


def test_chroma_lowpass_ignores_brightness_and_keeps_colour():
    from toonforge.losses.texture import chroma_lowpass, colour_loss

    grey = torch.linspace(-1, 1, 16 * 16).reshape(1, 1, 16, 16).expand(2, 3, 16, 16).contiguous()
    assert chroma_lowpass(grey).shape == (2, 2, 2, 2)
    assert chroma_lowpass(grey).abs().max() < 1e-6  # any grey, dark or light, has no chroma
    red = torch.zeros(1, 3, 16, 16)
    red[:, 0] = 1.0
    cb, cr = chroma_lowpass(red, factor=16)[0, :, 0, 0]
    assert cr > 0.4 and cb < -0.1
    # Brightening a colour photo uniformly (same chroma) costs nothing; draining its colour does.
    torch.manual_seed(0)
    photo = (torch.rand(2, 3, 1, 1) * 1.2 - 0.8) + 0.05 * torch.randn(2, 3, 32, 32)  # flat colours
    assert colour_loss(photo + 0.2, photo) < 1e-6
    drained = photo.mean(1, keepdim=True).expand_as(photo)
    assert colour_loss(drained, photo) > 0.05
    out = drained.clone().requires_grad_(True)
    colour_loss(out, photo).backward()
    assert out.grad.abs().sum() > 0
    with pytest.raises(InputError):
        chroma_lowpass(torch.zeros(1, 1, 8, 8))


def test_relative_chroma_asks_brightened_colour_to_fade_towards_white():
    from toonforge.losses.texture import colour_loss, relative_chroma_lowpass

    skin = torch.tensor([0.45, 0.1, -0.2]).view(1, 3, 1, 1).expand(1, 3, 16, 16).contiguous()  # tan
    faded = 0.25 * skin + 0.75  # three quarters of the way to white: hue kept, saturation faded
    shifted = skin + (faded.mean() - skin.mean())  # as bright, but with the photo's full chroma
    # Fading to white keeps chroma in proportion to the room above the luma: exact with floor 0.
    assert torch.allclose(relative_chroma_lowpass(faded, floor=0.0), relative_chroma_lowpass(skin, floor=0.0),
                          atol=1e-5)
    # The absolute term prefers the impossible bright-and-saturated copy; the relative one the fade.
    assert colour_loss(shifted, skin) < colour_loss(faded, skin)
    assert colour_loss(faded, skin, relative=True) < colour_loss(shifted, skin, relative=True)
    assert relative_chroma_lowpass(skin).shape == (1, 2, 2, 2)
