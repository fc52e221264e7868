"""Planning batch jobs: which input file goes to which output path.

Rules: folders are expanded to the images inside (optionally recursively, keeping relative
paths); a single input file may go to an output *file*; otherwise the output is a folder.
An output path equal to any input path is refused, even with ``overwrite``. Outputs are
always in a format :func:`~toonforge.io.images.save_image` writes: an input in a format it only
reads (GIF, TIFF) goes to PNG unless ``--format`` says otherwise, decided before any work.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ..io.images import IMAGE_EXTENSIONS, SAVE_EXTENSIONS, list_images
from ..io.outputs import FILE_SUFFIXES


@dataclass(frozen=True)
class Job:
    """One input image and the output path its result goes to (head-only: a name stem)."""

    src: Path
    dst: Path


def expand_inputs(inputs: list[Path], recursive: bool = False) -> list[tuple[Path, Path]]:
    """Inputs -> (file, path relative to its input root). InputError for missing paths."""
    found: list[tuple[Path, Path]] = []
    for p in inputs:
        if p.is_dir():
            files = list_images(p, recursive=recursive)
            if not files:
                raise InputError(f"no images found in folder {p}")
            found += [(f, f.relative_to(p)) for f in files]
        elif p.is_file():
            found.append((p, Path(p.name)))
        else:
            from ..io.files import why_not_a_file

            raise InputError(f"cannot read {p}: {why_not_a_file(p)}")
    return found


def plan_jobs(inputs: list[Path], output: Path, *, fmt: str | None = None,
              recursive: bool = False) -> list[Job]:
    """Map every input image to its output path.

    ``fmt`` (e.g. "png") forces the output extension; by default the input's is kept when
    :data:`~toonforge.io.images.SAVE_EXTENSIONS` has it, else the output is PNG.
    """
    writable = ", ".join(e.lstrip(".") for e in SAVE_EXTENSIONS)
    if fmt is not None and f".{fmt.lower().lstrip('.')}" not in SAVE_EXTENSIONS:
        raise InputError(f"cannot write {fmt!r} images; --format takes one of {writable}")
    suffix = output.suffix.lower()
    if suffix in FILE_SUFFIXES and suffix not in IMAGE_EXTENSIONS and not output.is_dir():
        raise InputError(f"output {output.name} is named like a {output.suffix} file, which stylize does not write; "
                         f"give an image file ({writable}) or a folder")
    if output.suffix.lower() in IMAGE_EXTENSIONS and output.suffix.lower() not in SAVE_EXTENSIONS:
        raise InputError(f"cannot write {output.suffix} images ({output.name}); give an output ending in one of "
                         f"{writable}")
    files = expand_inputs(inputs, recursive)
    single_file_out = (
        len(files) == 1 and inputs[0].is_file() and output.suffix.lower() in IMAGE_EXTENSIONS
    )
    if output.suffix.lower() in IMAGE_EXTENSIONS and not single_file_out:
        raise InputError(f"{output} looks like a file, but there are {len(files)} inputs; give a folder")
    if output.exists() and not output.is_dir() and not single_file_out:
        raise InputError(f"output {output} exists and is not a folder")
    jobs = []
    for src, rel in files:
        if single_file_out:
            dst = output
        else:
            ext = f".{fmt.lower().lstrip('.')}" if fmt else src.suffix.lower()
            ext = ext if ext in SAVE_EXTENSIONS else ".png"  # GIF, TIFF: read, not written
            dst = output / rel.with_suffix(ext)
        jobs.append(Job(src, dst))
    sources = {j.src.resolve() for j in jobs}
    for j in jobs:
        if j.dst.resolve() in sources:
            raise InputError(f"output {j.dst} would overwrite an input; choose another output folder")
    dsts = [j.dst.resolve() for j in jobs]
    if len(set(dsts)) != len(dsts):
        raise InputError("two inputs map to the same output name; use --format or separate runs")
    return jobs


def head_path(dst: Path, index: int) -> Path:
    """Output path of the ``index``-th face crop for a job whose output is ``dst``."""
    return dst.with_name(f"{dst.stem}_face{index}{dst.suffix}")


def is_done(job: Job, head_only: bool) -> bool:
    """True when a previous run already wrote this job's output."""
    return head_path(job.dst, 0).exists() if head_only else job.dst.exists()
