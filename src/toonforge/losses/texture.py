"""DCT-Net / White-box Cartoonization image representations and the total variation loss.

* **Surface** (:func:`surface_representation`): an edge-preserving smoothing of the image by a
  differentiable, self-guided guided filter (He et al., 2010). Brush strokes and flat shading
  remain; fine texture goes. One discriminator judges it on 3 channels.
* **Texture** (:func:`texture_representation`): a random colour shift to one grey channel (a
  random convex mix of R, G and B), so a second discriminator judges strokes and high-frequency
  texture without being able to use colour or brightness.
* :func:`~toonforge.losses.pixel.total_variation` (``power=2``) keeps the generator's output free of
  high-frequency artefacts.
* **Colour** (:func:`chroma_lowpass`, :func:`colour_loss`): the YCbCr chroma of an image,
  average-pooled, so a loss can keep the photo's colours (skin tone, hair, lips) at low
  resolution while leaving brightness, lines and fine texture free. Not in DCT-Net: our
  texture-led teacher drained colour, and its surface discriminator did not bring it back
  (docs/cartoon/README.md).

All functions are differentiable, work on any device and dtype, and take images
(N, C, H, W) in [-1, 1].
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..errors import InputError
from ..io.images import LUMA_601

__all__ = ["GREY_WEIGHT_RANGES", "box_mean", "chroma_lowpass", "color_shift", "colour_loss", "guided_filter",
           "luma_601", "random_grey_weights", "relative_chroma_lowpass", "surface_representation",
           "texture_representation"]

# Ranges of the random channel weights, centred near the luma coefficients (0.299, 0.587, 0.114)
# with a spread of +-0.1, the values used by White-box Cartoonization.
GREY_WEIGHT_RANGES: tuple[tuple[float, float], ...] = ((0.199, 0.399), (0.487, 0.687), (0.014, 0.214))


def _check_images(x: torch.Tensor, name: str) -> None:
    if not isinstance(x, torch.Tensor) or x.ndim != 4:
        raise InputError(f"{name} must be a (N, C, H, W) tensor, got {getattr(x, 'shape', type(x))}")


def box_mean(x: torch.Tensor, radius: int) -> torch.Tensor:
    """Mean over the (2r+1) x (2r+1) window around each pixel, counting only pixels inside the
    image (so a constant image stays constant up to its borders). (N, C, H, W) -> same shape."""
    _check_images(x, "box_mean input")
    if radius < 0:
        raise InputError(f"box filter radius must be >= 0, got {radius}")
    if radius == 0:
        return x
    k = 2 * radius + 1
    return F.avg_pool2d(x, k, stride=1, padding=radius, count_include_pad=False)


def guided_filter(guide: torch.Tensor, src: torch.Tensor, radius: int = 5, eps: float = 2e-1) -> torch.Tensor:
    """Per-channel guided filter of ``src`` steered by ``guide`` (both (N, C, H, W), same shape).

    In each window the output is a linear function ``a * guide + b`` of the guide, fitted by
    ridge regression with penalty ``eps`` on ``a``; the coefficients are then averaged over the
    windows covering each pixel. Exact identities: a constant ``src`` (with any guide) is
    returned unchanged; ``radius=0`` returns ``src``; with ``guide is src`` and ``eps -> 0`` the
    output tends to ``src``. Larger ``eps`` (relative to local variance) smooths more.
    Returns (N, C, H, W), differentiable in both inputs.
    """
    _check_images(guide, "guide")
    _check_images(src, "src")
    if guide.shape != src.shape:
        raise InputError(f"guide and src must have the same shape, got {tuple(guide.shape)} and {tuple(src.shape)}")
    if eps < 0:
        raise InputError(f"guided filter eps must be >= 0, got {eps}")
    mean_i, mean_p = box_mean(guide, radius), box_mean(src, radius)
    cov_ip = box_mean(guide * src, radius) - mean_i * mean_p
    var_i = (box_mean(guide * guide, radius) - mean_i * mean_i).clamp_min(0.0)
    a = cov_ip / (var_i + eps) if eps > 0 else torch.where(var_i > 0, cov_ip / var_i.clamp_min(1e-12),
                                                           torch.zeros_like(var_i))
    b = mean_p - a * mean_i
    return box_mean(a, radius) * guide + box_mean(b, radius)


def surface_representation(x: torch.Tensor, radius: int = 5, eps: float = 2e-1) -> torch.Tensor:
    """The self-guided filter of ``x`` ((N, 3, H, W) in [-1, 1]) -> (N, 3, H, W) in [-1, 1]."""
    return guided_filter(x, x, radius, eps)


def random_grey_weights(n: int, generator: torch.Generator | None = None,
                        device: torch.device | str = "cpu") -> torch.Tensor:
    """(n, 3) float32 channel weights, each row drawn uniformly in :data:`GREY_WEIGHT_RANGES`
    (from ``generator``, default the global torch RNG) and normalised to sum to 1."""
    if n < 1:
        raise InputError(f"need at least one weight row, got n={n}")
    lo = torch.tensor([r[0] for r in GREY_WEIGHT_RANGES])
    hi = torch.tensor([r[1] for r in GREY_WEIGHT_RANGES])
    w = lo + (hi - lo) * torch.rand(n, 3, generator=generator)
    return (w / w.sum(dim=1, keepdim=True)).to(device)


def color_shift(x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Mix the channels of ``x`` (N, 3, H, W) with per-image ``weights`` (N, 3) (or (3,)),
    rows summing to 1 -> (N, 1, H, W); a convex mix, so it stays in the input's range."""
    _check_images(x, "color_shift input")
    if x.shape[1] != 3:
        raise InputError(f"color_shift expects 3 channels, got {x.shape[1]}")
    w = weights.to(device=x.device, dtype=x.dtype)
    w = w.expand(x.shape[0], 3) if w.ndim == 1 else w
    if w.shape != (x.shape[0], 3):
        raise InputError(f"color_shift weights must be (N, 3) or (3,), got {tuple(weights.shape)}")
    return (x * w[:, :, None, None]).sum(dim=1, keepdim=True)


def texture_representation(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Random colour shift of each image of ``x`` (N, 3, H, W) in [-1, 1] to grey:
    (N, 1, H, W) in [-1, 1]; weights from :func:`random_grey_weights`."""
    _check_images(x, "texture_representation input")
    return color_shift(x, random_grey_weights(x.shape[0], generator, x.device))


def luma_601(x: torch.Tensor) -> torch.Tensor:
    """BT.601 luma of (N, 3, H, W) RGB images: (N, 1, H, W) on the same scale."""
    return (x * x.new_tensor(LUMA_601).view(1, 3, 1, 1)).sum(dim=1, keepdim=True)


def _lowpass_luma_chroma(x: torch.Tensor, factor: int, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """BT.601 luma (N, 1, h, w) and Cb, Cr (N, 2, h, w) of ``x`` averaged over ``factor`` blocks
    (both are linear in RGB, so the RGB is pooled first)."""
    _check_images(x, name)
    if x.shape[1] != 3:
        raise InputError(f"{name}: expected 3 channels, got {x.shape[1]}")
    if factor < 1:
        raise InputError(f"{name}: factor must be >= 1, got {factor}")
    pooled = F.avg_pool2d(x, factor, ceil_mode=True) if factor > 1 else x
    y = luma_601(pooled)
    return y, torch.cat([0.564 * (pooled[:, 2:3] - y), 0.713 * (pooled[:, 0:1] - y)], dim=1)


def chroma_lowpass(x: torch.Tensor, factor: int = 8) -> torch.Tensor:
    """Low-frequency colour of (N, 3, H, W) images in [-1, 1].

    Returns (N, 2, ceil(H / factor), ceil(W / factor)): the Cb and Cr channels of BT.601 YCbCr
    (luma removed; 0 for any grey, at most about 0.5 in magnitude on this scale), averaged over
    ``factor`` x ``factor`` blocks.
    """
    return _lowpass_luma_chroma(x, factor, "chroma_lowpass")[1]


def relative_chroma_lowpass(x: torch.Tensor, factor: int = 8, floor: float = 0.1) -> torch.Tensor:
    """:func:`chroma_lowpass` divided by the room left above the pooled luma, ``1 - Y + floor``
    (Y in [-1, 1]): (N, 2, ceil(H / factor), ceil(W / factor)). Near white there is little room
    for colour, so a brightened copy of a photo matches it by keeping the hue and fading the
    saturation in proportion (tan skin -> pale pink), not by holding the absolute chroma, which
    only darker tones can carry."""
    luma, chroma = _lowpass_luma_chroma(x, factor, "relative_chroma_lowpass")
    return chroma / (1.0 - luma + floor)


def colour_loss(output: torch.Tensor, photo: torch.Tensor, factor: int = 8, relative: bool = False) -> torch.Tensor:
    """Mean absolute difference of :func:`chroma_lowpass` (``relative``: of
    :func:`relative_chroma_lowpass`) between ``output`` and ``photo``."""
    lowpass = relative_chroma_lowpass if relative else chroma_lowpass
    return (lowpass(output, factor) - lowpass(photo, factor)).abs().mean()
