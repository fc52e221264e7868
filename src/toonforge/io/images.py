"""Image files in and out: safe decoding, EXIF orientation, colour modes, atomic writes.

Everything that leaves this module is a numpy ``uint8`` array of shape ``(H, W, 3)`` in RGB
order (plus an optional ``(H, W)`` ``uint8`` alpha plane). Every problem with a file the user
gave us becomes a one-line :class:`~toonforge.errors.InputError` that names the file.
"""

from __future__ import annotations

import io
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from toonforge.errors import InputError
from toonforge.io.files import atomic_output, why_not_a_file

__all__ = ["DEFAULT_MAX_PIXELS", "IMAGE_EXTENSIONS", "LUMA_601", "SAVE_EXTENSIONS", "LoadedImage",
           "list_images", "load_image", "load_image_bytes", "resize_rgb", "save_image", "square_resize"]

DEFAULT_MAX_PIXELS = 50_000_000

# ITU-R BT.601 luma weights (R, G, B): grey = 0.299 R + 0.587 G + 0.114 B, for metrics and losses alike.
LUMA_601: tuple[float, float, float] = (0.299, 0.587, 0.114)

# Extensions that list_images picks up (all of them decode with Pillow).
IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"}
)
# Extensions save_image can write, and the Pillow format name for each.
SAVE_EXTENSIONS: dict[str, str] = {
    ".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".bmp": "BMP",
}
_ALPHA_FORMATS = {"PNG", "WEBP"}


@dataclass
class LoadedImage:
    """A decoded image.

    Attributes:
        rgb: ``(H, W, 3)`` ``uint8`` RGB pixels, 0..255, EXIF orientation already applied.
        alpha: ``(H, W)`` ``uint8`` opacity (255 = opaque) when the file had one, else None.
        path: the file it came from, or None when decoded from bytes.
    """

    rgb: np.ndarray
    alpha: np.ndarray | None = None
    path: Path | None = None


def load_image(path: str | os.PathLike[str], max_pixels: int | None = DEFAULT_MAX_PIXELS
               ) -> LoadedImage:
    """Decode an image file into RGB (and alpha when present).

    Args:
        path: the image file (any format Pillow reads; for animations the first frame).
        max_pixels: refuse images whose header announces more pixels than this, before any
            pixel is decoded. None disables this check (Pillow's own hard limit still holds).

    Returns:
        A :class:`LoadedImage` with ``rgb`` ``(H, W, 3)`` ``uint8`` and ``alpha`` ``(H, W)``
        ``uint8`` or None.

    Raises:
        InputError: missing file, directory, empty, unreadable, not an image, truncated,
            corrupt, or too large.
    """
    p = Path(path)
    name = str(path)
    if p.is_dir():
        raise InputError(f"cannot read {name}: is a directory, not an image")
    if not p.is_file():  # missing, a broken link or loop, a FIFO (whose open would block), a device
        raise InputError(f"cannot read {name}: {why_not_a_file(p)}")
    try:
        size = p.stat().st_size
        if size == 0:
            raise InputError(f"cannot read {name}: file is empty")
        with open(p, "rb") as fh:
            rgb, alpha = _decode(fh, name, max_pixels)
    except OSError as exc:  # permission denied, I/O error while opening
        raise InputError(f"cannot read {name}: {exc.strerror or exc}") from None
    return LoadedImage(rgb=rgb, alpha=alpha, path=p)


def load_image_bytes(data: bytes, name: str = "<bytes>",
                     max_pixels: int | None = DEFAULT_MAX_PIXELS) -> LoadedImage:
    """Decode an image held in memory (an upload, a request body). Same rules as
    :func:`load_image`; ``name`` is used in error messages. ``path`` of the result is None."""
    if not data:
        raise InputError(f"cannot read {name}: file is empty")
    rgb, alpha = _decode(io.BytesIO(data), name, max_pixels)
    return LoadedImage(rgb=rgb, alpha=alpha, path=None)


def _decode(fh: IO[bytes], name: str, max_pixels: int | None
            ) -> tuple[np.ndarray, np.ndarray | None]:
    """Open, check the size from the header, fully decode, orient and convert one image."""
    with warnings.catch_warnings():
        # We do our own size check below; Pillow's soft warning would only duplicate it.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            im = Image.open(fh)
        except UnidentifiedImageError:
            raise InputError(f"cannot read {name}: not an image, or a format we cannot decode"
                             ) from None
        except Image.DecompressionBombError as exc:
            found = re.search(r"\((\d+) pixels\)", str(exc))
            count = f"{int(found.group(1)):,} pixels" if found else "too many pixels"
            raise InputError(f"cannot read {name}: image has {count}, above the decoder's "
                             f"safety limit of {2 * (Image.MAX_IMAGE_PIXELS or 0):,}") from None
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise InputError(f"cannot read {name}: {_describe(exc)}") from None

        with im:
            w, h = im.size
            if max_pixels is not None and w * h > max_pixels:
                raise InputError(f"cannot read {name}: image is {w}×{h} = {w * h:,} pixels, "
                                 f"above the limit of {max_pixels:,} (use --max-pixels)")
            try:
                im.seek(0)  # animations: the first frame only
                im.load()  # force the whole decode so truncation shows up here
            except (Image.DecompressionBombError, Image.DecompressionBombWarning):
                raise InputError(f"cannot read {name}: image is {w}×{h} = {w * h:,} pixels, "
                                 "above the decoder's safety limit") from None
            except (OSError, SyntaxError, ValueError, EOFError, IndexError) as exc:
                raise InputError(f"cannot read {name}: {_describe(exc)}") from None
            im = _apply_orientation(im)
            return _to_rgb_alpha(im, name)


def _describe(exc: BaseException) -> str:
    """A short, one-line reason for a Pillow decoding failure."""
    text = " ".join(str(exc).split())
    if "truncated" in text.lower() or isinstance(exc, EOFError):
        return "file is truncated"
    return f"corrupt image data ({text})" if text else "corrupt image data"


def _apply_orientation(im: Image.Image) -> Image.Image:
    """Rotate/flip according to the EXIF orientation tag; a broken EXIF block is ignored."""
    try:
        out = ImageOps.exif_transpose(im)
    except Exception:  # noqa: BLE001 - bad metadata must not make a good image unreadable
        return im
    return out if out is not None else im


def _scale_16bit(values: np.ndarray) -> np.ndarray:
    """Map 0..65535 to 0..255 with rounding (65535 -> 255, 32768 -> 128)."""
    v = np.clip(values.astype(np.int64), 0, 65535)
    return ((v * 255 + 32767) // 65535).astype(np.uint8)


def _to_rgb_alpha(im: Image.Image, name: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Convert any Pillow mode to ``(H,W,3)`` uint8 RGB plus an optional alpha plane."""
    mode = im.mode
    gray: np.ndarray | None = None
    if mode.startswith("I;16") or mode == "I":
        # 16-bit (and 32-bit integer) greyscale holds 16-bit samples in practice (16-bit
        # PNG/TIFF): scale to 8 bits rather than clip.
        gray = _scale_16bit(np.asarray(im))
    elif mode == "F":
        # Floating point greyscale: [0, 1] when the maximum says so, otherwise 0..255.
        f = np.nan_to_num(np.asarray(im, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        if f.size and float(f.max()) <= 1.0:
            f = f * 255.0
        gray = np.clip(np.rint(f), 0, 255).astype(np.uint8)
    if gray is not None:
        return np.repeat(gray[:, :, None], 3, axis=2), None

    palette_alpha = mode == "P" and im.palette is not None and im.palette.mode == "RGBA"
    has_alpha = mode in {"RGBA", "RGBa", "LA", "La", "PA"} or palette_alpha or (
        mode in {"P", "L", "RGB"} and "transparency" in im.info)
    try:
        if mode == "LAB":  # needs a real colour transform; Pillow's convert copies channels
            from PIL import ImageCms

            lab_to_srgb = ImageCms.buildTransform(
                ImageCms.createProfile("LAB"), ImageCms.createProfile("sRGB"), "LAB", "RGB")
            return np.array(ImageCms.applyTransform(im, lab_to_srgb)), None
        if mode == "La":
            im = im.convert("LA")
        if has_alpha:
            rgba = np.array(im.convert("RGBA"))
            return np.ascontiguousarray(rgba[:, :, :3]), np.ascontiguousarray(rgba[:, :, 3])
        return np.array(im.convert("RGB")), None
    except (ImportError, OSError, ValueError) as exc:  # a mode we cannot convert
        raise InputError(f"cannot read {name}: unsupported colour mode {mode} ({exc})") from None


def save_image(path: str | os.PathLike[str], rgb: np.ndarray, alpha: np.ndarray | None = None,
               *, overwrite: bool = False, quality: int = 95) -> Path:
    """Write an RGB image atomically, choosing the format from the extension.

    Args:
        path: destination; ``.png .jpg .jpeg .webp .bmp`` (any case). Parent folders are
            created. The file appears complete or not at all (temp file + ``os.replace``).
        rgb: ``(H, W, 3)`` ``uint8`` RGB.
        alpha: optional ``(H, W)`` ``uint8`` opacity; written to PNG and WebP, dropped for
            JPEG and BMP.
        overwrite: replace an existing file; otherwise an existing file is an error.
        quality: JPEG/WebP quality, 1..100 (JPEG keeps full colour resolution from 90 up).

    Returns:
        The path written.

    Raises:
        InputError: unknown extension, existing file without ``overwrite``, or a write error.
        ValueError: arrays of the wrong shape or dtype (a programming error).
    """
    p = Path(path)
    fmt = SAVE_EXTENSIONS.get(p.suffix.lower())
    if fmt is None:
        known = " ".join(sorted(SAVE_EXTENSIONS))
        raise InputError(f"cannot write {p}: unknown image extension '{p.suffix}' "
                         f"(use one of {known})")
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.shape[2:] != (3,) \
            or rgb.ndim != 3:
        raise ValueError("rgb must be a (H, W, 3) uint8 array, got "
                         f"{getattr(rgb, 'dtype', type(rgb))} {getattr(rgb, 'shape', '')}")
    if alpha is not None and (alpha.dtype != np.uint8 or alpha.shape != rgb.shape[:2]):
        raise ValueError(f"alpha must be uint8 of shape {rgb.shape[:2]}, got "
                         f"{alpha.dtype} {alpha.shape}")
    if p.is_dir():
        raise InputError(f"cannot write {p}: it is a directory")
    if p.exists() and not overwrite:
        raise InputError(f"{p} already exists (use --overwrite to replace it)")

    if alpha is not None and fmt in _ALPHA_FORMATS:
        image = Image.fromarray(np.dstack([rgb, alpha]), "RGBA")
    else:
        image = Image.fromarray(np.ascontiguousarray(rgb), "RGB")
    options: dict[str, object] = {}
    if fmt in {"JPEG", "WEBP"}:
        options["quality"] = int(quality)
    if fmt == "JPEG" and quality >= 90:
        options["subsampling"] = 0  # full-resolution colour: crisp edges on cartoon output

    try:
        with atomic_output(p) as tmp, open(tmp, "wb") as fh:
            image.save(fh, format=fmt, **options)
    except OSError as exc:
        raise InputError(f"cannot write {p}: {exc.strerror or exc}") from None
    return p


def list_images(folder: str | os.PathLike[str], recursive: bool = False) -> list[Path]:
    """The image files (by extension, see ``IMAGE_EXTENSIONS``) in a folder, sorted.

    Hidden files (names starting with a dot) are skipped. With ``recursive`` sub-folders are
    searched too. Raises InputError when ``folder`` is not a directory.
    """
    root = Path(folder)
    if not root.is_dir():
        raise InputError(f"cannot list images in {root}: not a directory")
    candidates = root.rglob("*") if recursive else root.iterdir()
    found = [
        f for f in candidates
        if f.suffix.lower() in IMAGE_EXTENSIONS
        and not any(part.startswith(".") for part in f.relative_to(root).parts)
        and f.is_file()
    ]
    return sorted(found)


def scaled_size(width: int, height: int, long_side: int) -> tuple[int, int]:
    """``(width, height)`` scaled so the longer side is ``long_side``, each side at least 1."""
    scale = long_side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def resize_rgb(rgb: np.ndarray, size: tuple[int, int], *, fast_upscale: bool = False) -> np.ndarray:
    """Resize an image to ``size = (width, height)``.

    Area averaging when the pixel count shrinks (no aliasing), bicubic when it grows
    (bilinear with ``fast_upscale``: about 3x cheaper, fine for smooth stylized images). A
    shrink by 2x or more first halves (:func:`halve`, exact 2x2 means, while both sides divide
    evenly and stay at least the target), then area-averages the rest: as free of aliasing,
    though not the same weights (0.25 levels apart on average from a one-step area resize on a
    portrait at 1280x720 -> 512x288), and 1.8x faster there (OpenCV's free-factor area
    resize is slow).
    Input ``(H, W)`` or ``(H, W, C)`` ``uint8``; output has the same dtype and channels.
    """
    w, h = int(size[0]), int(size[1])
    if w <= 0 or h <= 0:
        raise ValueError(f"size must be positive (width, height), got {size}")
    if (rgb.shape[1], rgb.shape[0]) == (w, h):
        return rgb.copy()
    shrinking = w * h < rgb.shape[0] * rgb.shape[1]
    if shrinking:
        rgb = halve(rgb, halvings(rgb.shape, (w, h), even=True))
        if (rgb.shape[1], rgb.shape[0]) == (w, h):
            return rgb
    interp = cv2.INTER_AREA if shrinking else (cv2.INTER_LINEAR if fast_upscale else cv2.INTER_CUBIC)
    return cv2.resize(rgb, (w, h), interpolation=interp)


def halvings(shape: tuple[int, ...], size: tuple[int, int], *, even: bool = False) -> int:
    """How many times an image of ``shape`` (H, W[, C]) can be halved and stay at least
    ``size`` = (width, height); with ``even``, only while both sides divide evenly (no edge
    row or column replicated by :func:`halve`)."""
    h, w = shape[:2]
    times = 0
    while w >= 2 ** (times + 1) * size[0] and h >= 2 ** (times + 1) * size[1] \
            and (not even or (w % 2 ** (times + 1), h % 2 ** (times + 1)) == (0, 0)):
        times += 1
    return times


def halve(image: np.ndarray, times: int = 1) -> np.ndarray:
    """``image`` shrunk ``times`` times by 2x2 averaging: ``(H, W[, C])`` -> about ``(H / 2**times, ...)``.

    Each halving takes OpenCV's exact-factor area path, a fraction of the cost of a free-factor
    area resize of the same image. An odd side is first extended by its last row or column, so
    every output pixel averages a 2x2 block and, in pixel-centre coordinates, the map is
    exactly ``x_out = (x_in + 0.5) / 2**times - 0.5`` (the output sides are rounded up).
    """
    for _ in range(times):
        h, w = image.shape[:2]
        if h % 2 or w % 2:
            image = cv2.copyMakeBorder(image, 0, h % 2, 0, w % 2, cv2.BORDER_REPLICATE)
        image = cv2.resize(image, ((w + 1) // 2, (h + 1) // 2), interpolation=cv2.INTER_AREA)
    return image


def square_resize(rgb: np.ndarray, size: int) -> np.ndarray:
    """Centre-crop (H, W, 3) uint8 to a square, then resize to (size, size, 3) uint8.

    INTER_AREA when shrinking, bicubic when enlarging.
    """
    h, w = rgb.shape[:2]
    side = min(h, w)
    y0, x0 = (h - side) // 2, (w - side) // 2
    sq = rgb[y0:y0 + side, x0:x0 + side]
    if side == size:
        return np.ascontiguousarray(sq)
    interp = cv2.INTER_AREA if side > size else cv2.INTER_CUBIC
    return cv2.resize(sq, (size, size), interpolation=interp)
