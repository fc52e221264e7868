"""A dataset of (photo, stylized) image pairs matched by file stem, for the paired trainer."""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from toonforge.errors import InputError
from toonforge.io.images import IMAGE_EXTENSIONS, load_image, square_resize
from toonforge.training.augment import AugmentConfig, augment_pair
from toonforge.training.tone_augment import random_crop_pair, tone_shift_pair

log = logging.getLogger(__name__)


def _index_folder(folder: Path) -> dict[str, Path]:
    """Map file stem -> path for the image files in ``folder`` (first by sorted name wins)."""
    found: dict[str, Path] = {}
    for f in sorted(folder.iterdir()):
        if f.suffix.lower() in IMAGE_EXTENSIONS and not f.name.startswith(".") and f.is_file():
            found.setdefault(f.stem, f)
    return found


def readable_images(paths: Sequence[Path], label: str, size: int | None = None
                    ) -> tuple[list[Path], dict[Path, np.ndarray]]:
    """Decode every image of ``paths`` once, before training: a corrupt file would otherwise stop
    the run at the same step on every resume. Returns the readable paths (in order) and, when
    ``size`` is given, their (size, size, 3) uint8 squares (:func:`square_resize`); the unreadable
    ones are named in one notice on stderr and left out."""
    import sys

    good, images, bad = [], {}, []
    for path in paths:
        try:
            rgb = load_image(path).rgb
        except InputError as exc:
            bad.append(f"{path.name} ({str(exc).rsplit(': ', 1)[-1]})")
            continue
        good.append(path)
        if size is not None:
            images[path] = square_resize(rgb, size)
    if bad:
        more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
        print(f"notice: skipping {len(bad)} unreadable {label} image(s): {', '.join(bad[:3])}{more}",
              file=sys.stderr, flush=True)
    return good, images


def check_pairing(data: PairedFolder, *, min_share: float = 0.9, allow_missing: bool = False) -> list[str]:
    """The names of ``data`` whose input and target both decode, after saying on stderr how many
    pairs were found and which inputs have no target. InputError when fewer than ``min_share`` of
    the inputs have a readable target, unless ``allow_missing``: half a target folder missing is
    more often a mistake (a copy cut short) than a choice."""
    import sys

    inputs = _index_folder(data.input_dir)
    orphans = sorted(set(inputs) - set(data.names))
    good_inputs, _ = readable_images([p for p, _ in data.pairs], "input")
    good_targets, _ = readable_images([t for _, t in data.pairs], "target")
    ok_in, ok_tgt = set(good_inputs), set(good_targets)
    names = [n for n, (a, b) in zip(data.names, data.pairs) if a in ok_in and b in ok_tgt]
    share = len(names) / max(1, len(inputs))
    if orphans:
        more = f" and {len(orphans) - 5} more" if len(orphans) > 5 else ""
        print(f"notice: {len(names)} pairs; {len(orphans)} of the {len(inputs)} inputs in {data.input_dir} have no "
              f"target in {data.target_dir}: {', '.join(orphans[:5])}{more}", file=sys.stderr, flush=True)
    if share < min_share and not allow_missing:
        raise InputError(f"only {len(names)} of the {len(inputs)} inputs in {data.input_dir} have a readable target "
                         f"({share:.0%}, below {min_share:.0%}); pass --allow-missing-targets to train on those pairs")
    if not names:
        raise InputError(f"no readable image pairs in {data.input_dir} and {data.target_dir}")
    return names


def to_tensor(rgb: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 RGB -> (3, H, W) float32 in [-1, 1]."""
    t = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).float()
    return t / 127.5 - 1.0


class PairedFolder(Dataset):
    """Pairs ``input_dir/<stem>.*`` with ``target_dir/<stem>.*`` (any image extensions).

    Items: ``(inp, target)``, each a (3, size, size) float32 tensor in [-1, 1], centre-cropped
    to a square and resized, then (when ``augment`` is given) augmented with one shared
    geometric transform and input-only colour jitter.
    tone_p: probability of the same dim/warm tone shift on both images
    (:func:`~toonforge.training.tone_augment.tone_shift_pair`); crop: then the same random
    ``crop`` x ``crop`` window of both (items become (3, crop, crop)).

    names: restrict to these stems (e.g. one side of ``split_names``); unknown names raise.
    Randomness: see :func:`item_rng` (resume-exact with ``num_workers=0``).
    """

    def __init__(self, input_dir: str | os.PathLike[str], target_dir: str | os.PathLike[str],
                 size: int, augment: AugmentConfig | None = None, seed: int = 0,
                 names: Sequence[str] | None = None, *, crop: int | None = None,
                 tone_p: float = 0.0) -> None:
        self.input_dir, self.target_dir = Path(input_dir), Path(target_dir)
        for label, folder in (("input", self.input_dir), ("target", self.target_dir)):
            if not folder.is_dir():
                raise InputError(f"{label} folder not found: {folder}")
        if size < 1:
            raise InputError(f"PairedFolder: size must be >= 1, got {size}")
        inputs, targets = _index_folder(self.input_dir), _index_folder(self.target_dir)
        common = sorted(set(inputs) & set(targets))
        if names is not None:
            missing = sorted(set(names) - set(common))
            if missing:
                raise InputError(f"{len(missing)} requested names have no pair in "
                                 f"{self.input_dir} and {self.target_dir} (e.g. {missing[0]!r})")
            wanted = set(names)
            common = [n for n in common if n in wanted]
        if not common:
            raise InputError(f"no image pairs with matching names in {self.input_dir} "
                             f"({len(inputs)} images) and {self.target_dir} "
                             f"({len(targets)} images)")
        self.names: list[str] = common
        self.pairs: list[tuple[Path, Path]] = [(inputs[n], targets[n]) for n in common]
        self.size = int(size)
        self.augment = augment
        self.seed = int(seed)
        if crop is not None and not 1 <= crop <= self.size:
            raise InputError(f"--crop-size must be in [1, {self.size}] (the --size), got {crop}")
        if not 0.0 <= tone_p <= 1.0:
            raise InputError(f"--tone-augment must be a probability in [0, 1], got {tone_p}")
        self.crop, self.tone_p = crop, float(tone_p)

    def __len__(self) -> int:
        return len(self.pairs)

    def load_pair(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """The pair at ``index`` as two (size, size, 3) uint8 RGB arrays, before augmentation."""
        inp_path, tgt_path = self.pairs[index]
        inp = square_resize(load_image(inp_path).rgb, self.size)
        tgt = square_resize(load_image(tgt_path).rgb, self.size)
        return inp, tgt

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not -len(self) <= index < len(self):
            raise IndexError(index)
        index %= len(self)
        inp, tgt = self.load_pair(index)
        if self.augment is None and self.crop is None and self.tone_p == 0.0:
            return to_tensor(inp), to_tensor(tgt)
        rng = item_rng(self.seed, index)
        if self.augment is not None:
            inp, tgt = augment_pair(inp, tgt, self.augment, rng)
        if self.crop is not None:
            inp, tgt = random_crop_pair(inp, tgt, self.crop, rng)
        if self.tone_p > 0.0:
            inp, tgt = tone_shift_pair(inp, tgt, self.tone_p, rng)
        return to_tensor(inp), to_tensor(tgt)


def item_rng(seed: int, index: int) -> np.random.Generator:
    """A NumPy generator for one dataset item, from (seed, index, one draw of torch's RNG).

    The draw comes from the process's global torch RNG, which the training loop checkpoints
    and restores, so with ``num_workers=0`` a resumed run sees exactly the augmentations of an
    uninterrupted one; in a DataLoader worker that RNG is the worker's (seeded per epoch from
    the loader's own generator), so draws differ across epochs and workers yet repeat for the
    same seeds.
    """
    draw = int(torch.randint(0, 2**62, (1,)).item())
    return np.random.default_rng([seed & 0xFFFF_FFFF, index, draw])


def split_names(names: Sequence[str], val_fraction: float,
                seed: int = 0) -> tuple[list[str], list[str]]:
    """Deterministic train/validation split by hashing each name with the seed.

    A name goes to validation when ``sha256(f"{seed}:{name}")`` mapped to [0, 1) is below
    ``val_fraction``; the result does not depend on the order of ``names``, on the machine or
    on the Python hash seed, and adding names never moves existing ones. Returns sorted
    (train, val). When the fraction is in (0, 1) and there are at least two names, both sides
    are kept non-empty (the name closest to the threshold is moved).
    """
    if not 0.0 <= val_fraction <= 1.0:
        raise InputError(f"val_fraction must be in [0, 1], got {val_fraction}")
    scored = sorted((_unit_hash(f"{seed}:{n}"), n) for n in set(names))
    train = [n for u, n in scored if u >= val_fraction]
    val = [n for u, n in scored if u < val_fraction]
    expected = val_fraction * len(scored)
    if expected >= 20 and len(val) < expected / 4:
        # Far below chance: these names were most likely what is left after an earlier split
        # with the same fraction and seed (e.g. a held-out test set removed with seed 0).
        log.warning("only %d of %d names fell in the %g validation split (about %d expected): they were "
                    "probably split before with the same seed; pass another --seed",
                    len(val), len(scored), val_fraction, round(expected))
    if 0.0 < val_fraction < 1.0 and len(scored) >= 2:
        if not val:
            val, train = [scored[0][1]], [n for _, n in scored[1:]]
        elif not train:
            train, val = [scored[-1][1]], [n for _, n in scored[:-1]]
    return sorted(train), sorted(val)


def _unit_hash(text: str) -> float:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64
