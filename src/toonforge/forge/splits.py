"""Folders of links the production line trains and measures on: hash splits, never copies.

Every split is :func:`toonforge.training.paired_data.split_names` of file stems, so adding images
never moves an image between sides, and the same photos stay held out for every style.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from ..errors import InputError
from ..io.images import list_images


def _split_names(names: Sequence[str], fraction: float, seed: int) -> tuple[list[str], list[str]]:
    from ..training.paired_data import split_names  # the training stack (torch) only when called

    return split_names(names, fraction, seed=seed)


def link_images(folder: Path, files: Iterable[Path]) -> int:
    """Symbolic links in ``folder`` (created) to each of ``files``, by file name; existing links are
    kept, and a link whose target is another file is refused. Returns how many files."""
    folder.mkdir(parents=True, exist_ok=True)
    count = 0
    for f in files:
        link, target = folder / f.name, f.resolve()
        if link.is_symlink() or link.exists():
            if link.resolve() != target:
                raise InputError(f"{link} exists and is not a link to {target}: choose another work folder")
        else:
            tmp = folder / f".{f.name}.link"
            if tmp.is_symlink():
                tmp.unlink()
            tmp.symlink_to(target)
            os.replace(tmp, link)  # a link appears whole or not at all
        count += 1
    return count


def link_split(fraction: float, train_dir: Path, held_dir: Path, sources: Sequence[Path],
               *, seed: int = 0) -> tuple[int, int]:
    """Split the images of every folder in ``sources`` by file stem (``split_names``, ``seed``)
    into two folders of symbolic links, ``held_dir`` getting ``fraction`` of them. A rerun keeps
    the links and adds nothing. Returns (train count, held-out count)."""
    files: dict[str, Path] = {}
    for src in sources:
        for p in list_images(Path(src)):
            files[p.stem] = p  # a later folder's image wins a shared stem
    if not files:
        raise InputError(f"no images in {', '.join(str(s) for s in sources)}")
    train, held = _split_names(sorted(files), fraction, seed)
    link_images(Path(train_dir), (files[n] for n in train))
    link_images(Path(held_dir), (files[n] for n in held))
    return len(train), len(held)


def fit_inputs(pairs: Path, raw_photos: Path, refs: Path, fit: Path, *, val_fraction: float,
               seed: int, refs_every: int = 5) -> tuple[int, int]:
    """The data a post-hoc choice (a face reshape, a cleanup width) is fitted on, away from the
    held-out eval: ``fit/val-photos`` links the raw photos (from ``raw_photos``) of the student's
    own validation pairs (the stems of ``pairs`` split as ``train-translator`` splits them, with
    ``val_fraction`` and ``seed``); ``fit/fit-refs`` links every ``refs_every``-th training
    reference of ``refs``. Returns the two counts."""
    _, val = _split_names([p.stem for p in list_images(Path(pairs))], val_fraction, seed)
    raw = {p.stem: p for p in list_images(Path(raw_photos))}
    photos = link_images(Path(fit) / "val-photos", (raw[s] for s in val if s in raw))
    references = link_images(Path(fit) / "fit-refs", list_images(Path(refs))[::refs_every])
    return photos, references
