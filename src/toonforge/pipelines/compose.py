"""The finished frame in one full-resolution pass: the frame and every head as coefficient layers.

Each stylized part that goes into the output (the full-image network's frame at its working
resolution, each stylized head in its aligned crop) becomes a :class:`Layer`: per low-resolution
pixel, ``out = a * Y + b`` with ``Y`` the photo's luminance at full resolution (the fast guided
filter's linear model, :func:`coefficients`), and a placement (layer pixel -> photo pixel
affine) plus, for a head, its feathered paste mask. A part that is not guided (a small head, a
frame upscaled by under 1.5x, the ``bilinear`` mode) has ``a = 0`` and ``b`` its own pixels, so
it is plain bilinear interpolation.

Pasting a head over the frame blends the two outputs by the mask; since both are linear in
``Y``, that equals blending their coefficients: ``m (a_h Y + b_h) + (1 - m)(a_f Y + b_f) =
(m a_h + (1 - m) a_f) Y + (m b_h + (1 - m) b_f)``. :func:`compose` therefore warps every layer's
coefficient maps straight into photo pixels, blends them band by band, and applies them to the
photo's luminance once. Compared with guiding each head up to its footprint in its own crop
and warping that back, this skips the full-resolution guide crop of every head, its guided
pass and the warp of the guided head, and it reads ``Y`` from the photo itself rather than
resampled twice. Work grows with the pixel count (plus each head's footprint); extra memory is
one band of maps.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..face.align import invert_affine
from ..face.paste import footprint, shrink_to_footprint

__all__ = ["BAND_ROWS", "Layer", "coefficients", "compose", "frame_layer", "head_layer"]

BAND_ROWS = 256  # output rows per band of the full-resolution pass (bounds the memory)
_FLAGS = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP


def _box(x: np.ndarray, r: int) -> np.ndarray:
    """Mean over a (2r + 1)^2 window, reflected at the borders (float32, any channels)."""
    return cv2.blur(x, (2 * r + 1, 2 * r + 1), borderType=cv2.BORDER_REFLECT_101)


def coefficients(low_out: np.ndarray, low_guide: np.ndarray, radius: int = 2,
                 eps: float = 1e-4) -> tuple[np.ndarray, np.ndarray]:
    """Guided-filter coefficient maps ``(a, b)`` of a stylization on its photo, each (h, w, 3) float32.

    ``a`` is the window-mean slope of the stylization on the photo's luminance ``Y`` (BT.601
    grey, rounded to 0-255 as the full-resolution pass reads it); ``b = low_out - a * Y``
    keeps everything ``a * Y`` does not explain (the style's own strokes and colours), so
    ``a * Y + b`` reproduces ``low_out`` exactly at the low resolution and, with the
    full-resolution ``Y``, adds the photo's finer detail where the style follows the photo.

    Args:
        low_out, low_guide: ``(h, w, 3)`` uint8, the stylization and the photo it was made from.
        radius: window radius in low-resolution pixels.
        eps: regularization of ``Y``'s variance on the [0, 1] scale; larger = smoother (fewer
            photo details brought back where the style does not follow the photo).
    """
    if low_out.shape != low_guide.shape or low_out.ndim != 3 or low_out.shape[2] != 3:
        raise ValueError(f"low_out and low_guide must be the same (h, w, 3), got {low_out.shape} "
                         f"and {low_guide.shape}")
    y = cv2.cvtColor(low_guide, cv2.COLOR_RGB2GRAY).astype(np.float32)  # 0-255, as compose reads it
    p = low_out.astype(np.float32, order="C")
    # OpenCV's per-element operations on three-channel copies: numpy broadcasting a
    # (h, w, 1) array over (h, w, 3) runs several times slower.
    y3 = cv2.merge([y, y, y])
    mean_y = _box(y, radius)
    cov = _box(cv2.multiply(p, y3), radius)
    cov -= cv2.multiply(_box(p, radius), cv2.merge([mean_y, mean_y, mean_y]))
    var = _box(cv2.multiply(y, y), radius)
    var -= cv2.multiply(mean_y, mean_y)
    var += np.float32(eps * 255.0 * 255.0)
    a = _box(cv2.divide(cov, cv2.merge([var, var, var])), radius)
    p -= cv2.multiply(a, y3)  # b, in place
    return a, p


@dataclass(eq=False)
class Layer:
    """One stylized part of the output, as ``out = a * Y + b`` on its own pixel grid.

    Attributes:
        a: ``(h, w, 3)`` float32 slope on the photo's luminance (0-255 scale), or None for 0.
        b: ``(h, w, 3)`` float32 offset, 0-255 scale.
        to_photo: ``(2, 3)`` float64 affine, layer pixel -> photo pixel (pixel centres).
        mask: ``(h, w)`` float32 paste weights in [0, 1], or None for the base layer (which
            covers the whole photo).
        shift: ``(h, w, 2)`` float32 or None: where a reshaped head reads the photo's
            luminance, as an offset in photo pixels from each pixel (the reshape's warp, so
            the guide moves with the reshaped features; zero away from them).
    """

    a: np.ndarray | None
    b: np.ndarray
    to_photo: np.ndarray
    mask: np.ndarray | None = None
    shift: np.ndarray | None = None


def _resize_affine(src: tuple[int, int], dst: tuple[int, int]) -> np.ndarray:
    """``(2, 3)`` affine from a ``src = (w, h)`` grid onto a ``dst`` grid stretched over the
    same area, in pixel-centre coordinates (``x' = (x + 0.5) * W / w - 0.5``, as ``cv2.resize``)."""
    fx, fy = dst[0] / src[0], dst[1] / src[1]
    return np.array([[fx, 0.0, 0.5 * fx - 0.5], [0.0, fy, 0.5 * fy - 0.5]])


def frame_layer(low_out: np.ndarray, low_guide: np.ndarray | None, size: tuple[int, int]) -> Layer:
    """The base layer: the full-image stylization ``(h, w, 3)`` uint8 stretched over a photo
    of ``size = (W, H)``; guided by ``low_guide`` (the photo as the network saw it) or, when that
    is None, plain bilinear."""
    h, w = low_out.shape[:2]
    if low_guide is None:
        return Layer(None, low_out.astype(np.float32, order="C"), _resize_affine((w, h), size))
    a, b = coefficients(low_out, low_guide)
    return Layer(a, b, _resize_affine((w, h), size))


def head_layer(head: np.ndarray, guide: np.ndarray | None, inverse: np.ndarray, mask: np.ndarray,
               maps: tuple[np.ndarray, np.ndarray] | None = None) -> Layer:
    """A stylized head ``(s, s, 3)`` uint8 to paste through ``inverse`` (crop -> photo) and
    ``mask`` ``(s, s)``; guided by ``guide`` (its aligned photo crop) or, when None, plain
    (then a crop much larger than its footprint is first shrunk, as :func:`paste_back` does).

    ``maps``: the style's reshape of the head, ``(map_x, map_y)`` (:func:`..face.reshape.reshape_maps`
    of the crop); ``guide`` must be the reshaped crop then, and the photo's luminance is read
    through the same warp at full resolution."""
    if guide is None:
        b, mask, inverse = shrink_to_footprint(head.astype(np.float32, order="C"), mask, inverse)
        return Layer(None, b, np.asarray(inverse, np.float64), mask)
    a, b = coefficients(head, guide)
    inverse = np.asarray(inverse, np.float64)
    shift = None
    if maps is not None:
        s = head.shape[0]
        grid = np.arange(s, dtype=np.float32)
        offset = np.dstack([maps[0] - grid[None, :], maps[1] - grid[:, None]])  # crop pixels
        shift = (offset @ inverse[:, :2].T.astype(np.float32)).astype(np.float32)  # photo pixels
    return Layer(a, b, inverse, mask, shift)


def _warp(maps: np.ndarray, to_layer: np.ndarray, size: tuple[int, int], border: int) -> np.ndarray:
    return cv2.warpAffine(maps, to_layer, size, flags=_FLAGS, borderMode=border, borderValue=0)


def _then(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """The (2, 3) affine ``second(first(p))``."""
    return (np.vstack([second, [0.0, 0.0, 1.0]]) @ np.vstack([first, [0.0, 0.0, 1.0]]))[:2]


def _scale(affine: np.ndarray) -> float:
    """Destination pixels per source pixel of a (2, 3) affine (its area scale, square-rooted)."""
    return float(np.sqrt(abs(np.linalg.det(affine[:, :2]))))


def _paste(a: np.ndarray | None, b: np.ndarray, layer: Layer, to_layer: np.ndarray,
           box: tuple[int, int, int, int]) -> None:
    """Blend ``layer`` into the maps ``a``, ``b`` (``(h, w, 3)`` float32, in place) over ``box``
    ``(x0, y0, x1, y1)`` of their grid; ``to_layer`` maps that grid's pixels to the layer's."""
    x0, y0, x1, y1 = box
    m = to_layer.copy()
    m[:, 2] += to_layer[:, 0] * x0 + to_layer[:, 1] * y0  # box pixel (0, 0) = grid pixel (x0, y0)
    size = (x1 - x0, y1 - y0)
    weight = _warp(layer.mask, m, size, cv2.BORDER_CONSTANT)
    rest = 1.0 - weight
    b[y0:y1, x0:x1] = cv2.blendLinear(_warp(layer.b, m, size, cv2.BORDER_REPLICATE), b[y0:y1, x0:x1], weight, rest)
    if a is not None:
        head_a = _warp(layer.a, m, size, cv2.BORDER_REPLICATE) if layer.a is not None \
            else np.zeros((size[1], size[0], 3), np.float32)
        a[y0:y1, x0:x1] = cv2.blendLinear(head_a, a[y0:y1, x0:x1], weight, rest)


def _read_shifted(grey: np.ndarray, whole: np.ndarray, start: int, layer: Layer, to_layer: np.ndarray,
                  box: tuple[int, int, int, int]) -> None:
    """Replace, in place, the band ``grey`` (photo rows from ``start``) under a reshaped head's
    footprint ``box`` by the photo's luminance ``whole`` ``(H, W)`` uint8 read through the
    head's warp (``layer.shift``; where it is zero, the same pixels)."""
    x0, y0, x1, y1 = box
    r0, r1 = max(y0, start), min(y1, start + grey.shape[0])
    if r1 <= r0:
        return
    m = to_layer.copy()
    m[:, 2] += to_layer[:, 0] * x0 + to_layer[:, 1] * r0
    size = (x1 - x0, r1 - r0)
    offset = _warp(layer.shift, m, size, cv2.BORDER_CONSTANT)
    xs, ys = np.meshgrid(np.arange(x0, x1, dtype=np.float32), np.arange(r0, r1, dtype=np.float32))
    grey[r0 - start:r1 - start, x0:x1] = cv2.remap(whole, xs + offset[:, :, 0], ys + offset[:, :, 1],
                                                   cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _onto_base(base: Layer, heads: list[Layer]) -> tuple[Layer, list[Layer]]:
    """Heads no finer than the base's grid (a head crop pixel covers at least a base pixel)
    blended into the base's maps at its resolution, and the heads left for full resolution.

    Blending there and interpolating once equals blending at full resolution up to the second
    bilinear interpolation of the head's maps, which onto a grid at least as fine as the
    head's own smooths nothing visible; it saves warping and blending each large head at
    full resolution (most of the pass on a portrait). The base's maps are blended into in place."""
    base_scale = _scale(base.to_photo)
    coarse = [layer for layer in heads if _scale(layer.to_photo) >= base_scale]
    if not coarse:
        return base, heads
    guided = base.a is not None or any(layer.a is not None for layer in coarse)
    a = (base.a if base.a is not None else np.zeros_like(base.b)) if guided else None
    b = base.b
    to_base = invert_affine(base.to_photo)
    h, w = b.shape[:2]
    for layer in coarse:
        into = _then(layer.to_photo, to_base)  # head pixel -> base pixel
        box = footprint(layer.b.shape[0], into, w, h)
        if box[2] > box[0] and box[3] > box[1]:
            _paste(a, b, layer, invert_affine(into), box)
    return Layer(a, b, base.to_photo), [layer for layer in heads if layer not in coarse]


def _placed(layers: list[Layer], width: int, height: int) -> list[tuple[Layer, np.ndarray, tuple[int, int, int, int]]]:
    """``(layer, photo -> layer affine, footprint box)`` of each layer that touches the photo."""
    out = []
    for layer in layers:
        box = footprint(layer.b.shape[0], layer.to_photo, width, height)
        if box[2] > box[0] and box[3] > box[1]:
            out.append((layer, invert_affine(layer.to_photo), box))
    return out


def compose(photo: np.ndarray, base: Layer, heads: list[Layer] = ()) -> np.ndarray:
    """The output ``(H, W, 3)`` uint8: ``base`` with every head layer pasted over it (in order),
    applied to the luminance of ``photo`` ``(H, W, 3)`` uint8, one band of rows at a time.

    ``base`` is used up: heads no finer than its grid are blended into its maps in place."""
    big_h, big_w = photo.shape[:2]
    out = np.empty((big_h, big_w, 3), np.uint8)
    # The reshaped heads read the luminance through their warp, wherever they are blended.
    reshaped = _placed([layer for layer in heads if layer.shift is not None], big_w, big_h)
    base, heads = _onto_base(base, list(heads))
    base_to = invert_affine(base.to_photo)
    same = base.b.shape[:2] == (big_h, big_w) and np.allclose(base.to_photo, [[1, 0, 0], [0, 1, 0]])
    placed = _placed(heads, big_w, big_h)  # the heads left for full resolution
    guided = base.a is not None or any(layer.a is not None for layer, _, _ in placed)
    whole_grey = cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY) if reshaped else None
    for start in range(0, big_h, BAND_ROWS):
        stop = min(start + BAND_ROWS, big_h)
        rows = stop - start
        to_low = base_to.copy()
        to_low[:, 2] += base_to[:, 1] * start  # band row r is photo row start + r
        if same:
            band_b = base.b[start:stop].copy()
            band_a = base.a[start:stop].copy() if base.a is not None else None
        else:
            band_b = _warp(base.b, to_low, (big_w, rows), cv2.BORDER_REPLICATE)
            band_a = _warp(base.a, to_low, (big_w, rows), cv2.BORDER_REPLICATE) if base.a is not None else None
        if band_a is None and guided:
            band_a = np.zeros_like(band_b)
        for layer, to_layer, (x0, y0, x1, y1) in placed:
            r0, r1 = max(y0, start), min(y1, stop)
            if r1 > r0:
                band_to = to_layer.copy()
                band_to[:, 2] += to_layer[:, 1] * start  # band rows are photo rows from start
                _paste(band_a, band_b, layer, band_to, (x0, r0 - start, x1, r1 - start))
        if guided:
            grey = cv2.cvtColor(photo[start:stop], cv2.COLOR_RGB2GRAY)
            for layer, to_layer, box in reshaped:
                _read_shifted(grey, whole_grey, start, layer, to_layer, box)
            y = cv2.cvtColor(grey, cv2.COLOR_GRAY2RGB).astype(np.float32)
            # a * Y + b, rounded and saturated to uint8 by OpenCV.
            out[start:stop] = cv2.add(cv2.multiply(band_a, y), band_b, dtype=cv2.CV_8U)
        else:
            out[start:stop] = cv2.convertScaleAbs(np.clip(band_b, 0.0, 255.0))
    return out
