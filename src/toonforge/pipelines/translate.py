"""Stage 2 -> stage 3: run a trained stage-2 generator over real photos and write pixel-aligned pairs.

``translate_folder(model, photos, out)`` writes, per photo, ``OUT/photo/<stem>.png`` (the exact network
input, S x S) and ``OUT/style/<stem>.png`` (the generator's output), ready for
``toonforge train-translator --photos OUT/photo --targets OUT/style``. Crops:

- ``aligned``: the largest detected face, FFHQ-aligned at S x S (as the stylizer's head path does).
- ``full``: the whole photo, padded to a square by mirroring its border (centred, so the aspect ratio is
  kept and nothing is cut) and resized to S x S.
- ``both``: the two above, under ``OUT/aligned/{photo,style}`` and ``OUT/full/{photo,style}``.

``OUT/manifest.jsonl`` gets one JSON line per finished pair (appended and fsynced after both images are
written), and ``OUT/sheet.png`` a contact sheet at the end. OUT must be new, empty, or made by this command
(it holds ``manifest.jsonl``); reruns skip recorded pairs, and OUT is refused when it was made with another
model file (by SHA-256), size or ``--crop``. No pair image is ever overwritten; an image file present
without a record (say, from a run killed between the two writes) is reported and left alone.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import CheckpointError, InputError, first_line
from ..io.images import load_image, save_image
from ..io.jsonl import append_jsonl, read_jsonl
from ..models.image_output import generator_output
from .crops import LazyDetector, collect_photos, face_crop, read_or_report, square_image
from .tensors import from_network, to_network

__all__ = ["CROPS", "MANIFEST", "PairMaker", "TranslateReport", "generator_output", "resolve_generator",
           "run_generator", "square_image", "translate_folder"]

CROPS = ("aligned", "full", "both")
MANIFEST, SHEET = "manifest.jsonl", "sheet.png"
BEST, LAST = "best_generator.safetensors", "generator.safetensors"


@dataclass
class TranslateReport:
    """What :func:`translate_folder` did. ``problems``: (source file, one-line reason) of skipped photos."""

    out: Path
    model_file: Path
    made: int = 0
    already_done: int = 0
    problems: list[tuple[str, str]] = field(default_factory=list)
    sheet: Path | None = None


def resolve_generator(path: str | os.PathLike[str], *, last: bool = False) -> Path:
    """The generator file of a run folder (``best_generator.safetensors``, else ``generator.safetensors``;
    ``last=True`` forces the latter) or ``path`` itself when it is a ``.safetensors`` file."""
    p = Path(path)
    if p.is_dir():
        for name in ((LAST,) if last else (BEST, LAST)):
            if (p / name).is_file():
                return p / name
        raise CheckpointError(f"{p} holds no {LAST if last else BEST + ' or ' + LAST}")
    if not p.is_file():
        raise CheckpointError(f"model not found: {p}")
    if p.suffix.lower() != ".safetensors":
        raise CheckpointError(f"{p} is not a .safetensors generator file or a run folder")
    return p


@torch.inference_mode()
def run_generator(net: nn.Module, crops: list[np.ndarray], device: torch.device | str = "cpu") -> list[np.ndarray]:
    """Translate same-size uint8 (S, S, 3) RGB crops; returns uint8 (S, S, 3) images (rounded, clipped)."""
    x = torch.from_numpy(to_network(crops)).to(device)
    try:
        y = generator_output(net(x))
    except RuntimeError as exc:
        raise InputError(f"the generator cannot run on {tuple(x.shape)}: {first_line(exc)}") from None
    if tuple(y.shape) != tuple(x.shape):
        raise CheckpointError(f"the generator returned {tuple(y.shape)} for input {tuple(x.shape)}")
    return from_network(y.float().cpu().numpy())


def _read_manifest(path: Path) -> list[dict]:
    """Records of a manifest; a torn last line (a killed run) is ignored."""
    return [rec for rec in read_jsonl(path) if "stem" in rec and "crop" in rec]


def _check_out(out: Path, identity: dict) -> list[dict]:
    """Records of an earlier run into ``out`` (made with ``identity``), or InputError."""
    manifest = out / MANIFEST
    if out.exists() and not out.is_dir():
        raise InputError(f"{out} exists and is not a folder")
    if not manifest.is_file():
        if out.is_dir() and any(out.iterdir()):
            raise InputError(f"{out} is not empty and has no {MANIFEST}; give a new or empty -o/--output folder")
        return []
    records = _read_manifest(manifest)
    for rec in records:
        for key, want in identity.items():
            if rec.get(key) != want:
                raise InputError(f"{out} holds pairs made with {key} {rec.get(key)!r}, not {want!r}; "
                                 "use another -o/--output folder (or --overwrite)")
    return records


def _sheet(out: Path, kinds: list[str], dirs: dict[str, Path], done: dict[tuple[str, str], dict],
           rows: int) -> Path | None:
    from ..evaluation.sheet import contact_sheet, pick_evenly

    stems = sorted({stem for _, stem in done})
    if rows <= 0 or not stems:
        return None
    table = []
    for i in pick_evenly(len(stems), rows):
        row: list[np.ndarray | None] = []
        for kind in kinds:
            for part in ("photo", "style"):
                f = dirs[kind] / part / f"{stems[i]}.png"
                row.append(load_image(f).rgb if (kind, stems[i]) in done and f.is_file() else None)
        table.append(row)
    columns = [f"{part} ({kind})" if len(kinds) > 1 else part for kind in kinds for part in ("photo", "style")]
    return save_image(out / SHEET, contact_sheet(columns, table, tile=160), overwrite=True)


@dataclass
class PairMaker:
    """What turns square crops into their targets, for :func:`translate_folder`.

    ``run(kind, crops)``: ``kind`` is "aligned" or "full", ``crops`` same-size uint8 (S, S, 3) RGB;
    returns uint8 (S, S, 3) images. ``name`` and ``sha256`` identify the model in the manifest (an
    OUT made by another ``sha256`` is refused); ``stride``: S must be a multiple of it.
    """

    name: str
    sha256: str
    run: Callable[[str, list[np.ndarray]], list[np.ndarray]]
    stride: int = 1
    size: int | None = None  # the default S
    step: Any = None


def translate_folder(
    model: str | os.PathLike[str] | PairMaker, photos: str | os.PathLike[str] | list[Path],
    out: str | os.PathLike[str], *,
    crop: str = "aligned", size: int | None = None, batch_size: int = 8, device: str = "cpu",
    limit: int | None = None, sheet: int = 16, last: bool = False, detector: object = "dlib",
    quiet: bool = False, say: Callable[[str], None] | None = None,
) -> TranslateReport:
    """Translate every image of ``photos`` (sorted, the first ``limit``) into photo/style pairs in ``out``.

    Args:
        model: a run folder or a generator ``.safetensors`` (see :func:`resolve_generator`), or a
            :class:`PairMaker` (e.g. a whole style as a teacher, see ``training.distill``).
        photos: a folder (or one file), or a list of photo files.
        crop: "aligned", "full" or "both" (see the module docstring).
        size: side S of the pairs; default the model's training size (``info["size"]``).
        detector: a detector name or object (aligned crops only; built only when there is work).
        sheet: rows of ``OUT/sheet.png`` (0: none).
        say: where notices go (default: stderr, silenced by ``quiet``).

    Returns:
        A :class:`TranslateReport`. Unreadable photos and photos without a face are listed in
        ``problems`` and skipped; nothing else about them is fatal.
    """
    from tqdm import tqdm

    from ..export.runtime import resolve_device
    from ..io.files import file_sha256
    from ..models.generator_file import load_generator_file

    if crop not in CROPS:
        raise InputError(f"crop must be one of {', '.join(CROPS)}, got {crop!r}")
    if batch_size < 1 or (limit is not None and limit < 1):
        raise InputError("--batch-size and --limit must be at least 1")
    out = Path(out)
    files = list(photos)[:limit] if isinstance(photos, list) else collect_photos(Path(photos), limit)
    if isinstance(model, PairMaker):
        maker = model
    else:
        model_file = resolve_generator(model, last=last)
        dev = resolve_device(device)
        net, info = load_generator_file(model_file, device=dev)
        maker = PairMaker(str(model_file), file_sha256(model_file)[:16],
                          lambda kind, crops: run_generator(net, crops, dev), int(getattr(net, "stride", 1)),
                          info.get("size"), info.get("step"))
    size = int(size or maker.size or 0)
    stride = maker.stride
    if size < 16 or size % stride:
        raise InputError(f"size must be >= 16 and a multiple of {stride}; give --size (model info size: "
                         f"{maker.size})")
    sha = maker.sha256
    records = _check_out(out, {"model_sha256": sha, "size": size, "mode": crop})
    kinds = ["aligned", "full"] if crop == "both" else [crop]
    dirs = {k: out / k if crop == "both" else out for k in kinds}
    done = {(r["crop"], r["stem"]): r for r in records if r["crop"] in dirs
            and all((dirs[r["crop"]] / p / f"{r['stem']}.png").is_file() for p in ("photo", "style"))}
    report = TranslateReport(out=out, model_file=Path(maker.name))
    say = say or ((lambda m: None) if quiet else (lambda m: tqdm.write(m, file=sys.stderr)))
    out.mkdir(parents=True, exist_ok=True)
    (out / MANIFEST).touch()  # marks OUT as ours from the first moment
    base = {"model": maker.name, "model_sha256": sha, "step": maker.step, "size": size, "mode": crop}
    det = LazyDetector(detector)
    pending: list[tuple[np.ndarray, dict]] = []

    def flush() -> None:
        if not pending:
            return
        styled: list[np.ndarray] = []
        for kind in kinds:  # one kind per call: a teacher may treat face crops and full images apart
            items = [(j, c) for j, (c, rec) in enumerate(pending) if rec["crop"] == kind]
            for i in range(0, len(items), batch_size):
                chunk = items[i:i + batch_size]
                styled += list(zip([j for j, _ in chunk], maker.run(kind, [c for _, c in chunk])))
        styled = [y for _, y in sorted(styled, key=lambda t: t[0])]
        for (photo, rec), style in zip(pending, styled):
            folder = dirs[rec["crop"]]
            save_image(folder / "photo" / f"{rec['stem']}.png", photo)
            save_image(folder / "style" / f"{rec['stem']}.png", style)
            append_jsonl(out / MANIFEST, [rec])
            done[(rec["crop"], rec["stem"])] = rec
            report.made += 1
        pending.clear()

    for path in tqdm(files, unit="img", disable=quiet or len(files) < 2, file=sys.stderr):
        todo = []
        for kind in kinds:
            if (kind, path.stem) in done:
                report.already_done += 1
                continue
            clash = [f for p in ("photo", "style") if (f := dirs[kind] / p / f"{path.stem}.png").exists()]
            if clash:
                report.problems.append((str(path), f"{clash[0]} exists but is not in {MANIFEST}; remove it to redo"))
            else:
                todo.append(kind)
        if not todo:
            continue
        rgb = read_or_report(path, report.problems)
        if rgb is None:
            continue
        for kind in todo:
            rec = {"source": str(path), "stem": path.stem, "crop": kind, "face_box": None, **base}
            got = face_crop(rgb, kind, size, det)
            if got is None:
                report.problems.append((str(path), "no face found"))
                continue
            crop_rgb, rec["face_box"] = got
            pending.append((crop_rgb, rec))
        if len(pending) >= batch_size:
            flush()
    flush()
    if report.made:
        report.sheet = _sheet(out, kinds, dirs, done, sheet)
    return report
