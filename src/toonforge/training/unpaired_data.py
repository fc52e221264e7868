"""Unpaired two-domain data for the stage-2 translators (U-GAT-IT, DCT-Net, CycleGAN).

Domain A is photos, domain B is style images; the two folders need not match in names or
count. An optional mask folder gives, for photos, a single-channel face-and-hair mask with the
same file stem (white = face/hair, black = background), used by the region-based background
term; the mask follows exactly the same geometric augmentation as its photo.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from ..errors import InputError
from ..io.images import list_images, load_image, square_resize
from .augment import AugmentConfig, augment_pair
from .paired_data import item_rng, readable_images, split_names, to_tensor

__all__ = ["DomainFolder", "UnpairedFolders", "split_domain"]

_CACHE_LIMIT = 1 << 30  # bytes of decoded, resized images kept in memory per folder


class DomainFolder:
    """The images of one folder, centre-cropped to squares of ``size`` and cached in memory.

    names: restrict to these file stems (e.g. one side of :func:`split_domain`).
    """

    def __init__(self, folder: str | os.PathLike[str], size: int,
                 names: Sequence[str] | None = None, label: str = "image") -> None:
        folder = Path(folder)
        if not folder.is_dir():
            raise InputError(f"{label} folder not found: {folder}")
        if size < 8:
            raise InputError(f"image size must be >= 8, got {size}")
        files = list_images(folder)
        if names is not None:
            wanted = set(names)
            files = [f for f in files if f.stem in wanted]
        if not files:
            raise InputError(f"no {label} images found in {folder}")
        cache_ok = len(files) * int(size) ** 2 * 3 <= _CACHE_LIMIT
        files, decoded = readable_images(files, label, int(size) if cache_ok else None)  # each decoded once
        if not files:
            raise InputError(f"no readable {label} images in {folder}")
        self.folder, self.files, self.size, self.label = folder, files, int(size), label
        self._cache: dict[int, np.ndarray] = {i: decoded[f] for i, f in enumerate(files) if f in decoded}
        self._cache_ok = cache_ok

    def __len__(self) -> int:
        return len(self.files)

    @property
    def stems(self) -> list[str]:
        return [f.stem for f in self.files]

    def image(self, i: int) -> np.ndarray:
        """Image ``i`` as (size, size, 3) uint8 RGB (decoded once, then cached)."""
        img = self._cache.get(i)
        if img is None:
            img = square_resize(load_image(self.files[i]).rgb, self.size)
            if self._cache_ok:
                self._cache[i] = img
        return img


def split_domain(folder: str | os.PathLike[str], val_fraction: float,
                 seed: int = 0) -> tuple[list[str], list[str]]:
    """Deterministic (train, val) split of a folder's image stems (see ``split_names``)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"folder not found: {folder}")
    return split_names([f.stem for f in list_images(folder)], val_fraction, seed)


class UnpairedFolders(Dataset):
    """Items ``{"photo": (3, S, S), "style": (3, S, S)}`` float32 in [-1, 1], plus
    ``"mask": (1, S, S)`` float32 in [0, 1] when ``mask_dir`` is given.

    Index ``i`` walks the larger domain; the other domain's image is drawn at random, so every
    epoch pairs each image with a fresh partner. ``augment`` (a geometric transform, and
    colour jitter on photos only) is drawn independently per domain: the domains are unpaired.
    Randomness comes from :func:`~.paired_data.item_rng`: runs repeat for the same seeds and
    resume exactly with ``num_workers=0``.
    """

    def __init__(self, photo_dir: str | os.PathLike[str], style_dir: str | os.PathLike[str],
                 size: int, augment: AugmentConfig | None = None, seed: int = 0, *,
                 photo_names: Sequence[str] | None = None,
                 style_names: Sequence[str] | None = None,
                 mask_dir: str | os.PathLike[str] | None = None) -> None:
        self.photos = DomainFolder(photo_dir, size, photo_names, "photo")
        self.styles = DomainFolder(style_dir, size, style_names, "style")
        self.masks: DomainFolder | None = None
        if mask_dir is not None:
            stems = {f.stem for f in list_images(mask_dir)} if Path(mask_dir).is_dir() else set()
            missing = [s for s in self.photos.stems if s not in stems]
            if missing:
                raise InputError(f"{len(missing)} photos have no mask in {mask_dir} "
                                 f"(e.g. {missing[0]!r})")
            self.masks = DomainFolder(mask_dir, size, self.photos.stems, "mask")  # decoded once, cached
            self._mask_of = {stem: j for j, stem in enumerate(self.masks.stems)}
        self.size, self.augment, self.seed = int(size), augment, int(seed)

    def __len__(self) -> int:
        return max(len(self.photos), len(self.styles))

    def _mask(self, i: int) -> np.ndarray:
        """The mask of photo ``i`` as (size, size, 3) uint8 (grey replicated)."""
        assert self.masks is not None
        grey = self.masks.image(self._mask_of[self.photos.stems[i]])
        return np.repeat(grey[..., :1], 3, axis=2)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        if not 0 <= index < len(self):
            raise IndexError(index)
        rng = item_rng(self.seed, index)
        n_a, n_b = len(self.photos), len(self.styles)
        ia = index if n_a >= n_b else int(rng.integers(n_a))
        ib = index if n_b > n_a else int(rng.integers(n_b))
        photo, style = self.photos.image(ia), self.styles.image(ib)
        mask = self._mask(ia) if self.masks is not None else None
        if self.augment is not None:
            # The mask rides along as the "target" so it gets the photo's exact geometry.
            photo, mask_out = augment_pair(photo, mask if mask is not None else photo, self.augment, rng)
            mask = mask_out if mask is not None else None
            style, _ = augment_pair(style, style, _no_color(self.augment), rng)
        item = {"photo": to_tensor(photo), "style": to_tensor(style)}
        if mask is not None:
            item["mask"] = torch.from_numpy(np.ascontiguousarray(mask[..., 0])).float()[None] / 255.0
        return item


def _no_color(cfg: AugmentConfig) -> AugmentConfig:
    """The same geometry with colour jitter off (style colours are the style)."""
    from dataclasses import replace

    return replace(cfg, color_jitter=0.0)
