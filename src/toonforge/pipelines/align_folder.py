"""Turn a folder of portraits (photos or drawings) into square training crops: ``toonforge align``.

Style makers start here: the stylizer's head model sees FFHQ-aligned face crops, so a style's
photos and references should be aligned the same way before stage 2 trains on them. Each input
``STEM.ext`` becomes ``OUT/STEM.png`` (``aligned`` or ``full`` crop, see :mod:`.crops`). Inputs
already done are skipped, so a killed run resumes; no file in OUT is ever overwritten. Unreadable
images and images without a face are listed in the report, not fatal.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from ..errors import InputError
from ..face.detector import FaceDetector
from ..io.images import save_image
from .crops import LazyDetector, collect_photos, face_crop, read_or_report

__all__ = ["AlignReport", "align_folder"]


@dataclass
class AlignReport:
    """What :func:`align_folder` did. ``problems``: (source file, one-line reason) of skipped inputs."""

    out: Path
    made: int = 0
    already_done: int = 0
    problems: list[tuple[str, str]] = field(default_factory=list)


def align_folder(photos: str | Path, out: str | Path, *, size: int = 256, crop: str = "aligned",
                 detector: str | FaceDetector = "dlib", limit: int | None = None,
                 quiet: bool = False) -> AlignReport:
    """Write one ``size`` x ``size`` RGB PNG per input image of ``photos`` into ``out``.

    Raises InputError for a bad size or crop, a missing or empty input folder, two inputs with the
    same stem, or ``out`` being the input folder.
    """
    photos, out = Path(photos), Path(out)
    if crop not in ("aligned", "full"):
        raise InputError(f"crop must be 'aligned' or 'full', got {crop!r}")
    if not 16 <= size <= 2048:
        raise InputError(f"size must be between 16 and 2048, got {size}")
    files = collect_photos(photos, limit)
    if out.resolve() in {photos.resolve(), photos.resolve().parent if photos.is_file() else None}:
        raise InputError(f"the output folder must differ from the input folder: {out}")
    out.mkdir(parents=True, exist_ok=True)
    report = AlignReport(out=out)
    det = LazyDetector(detector)
    for path in tqdm(files, unit="img", disable=quiet or len(files) < 2, file=sys.stderr):
        target = out / f"{path.stem}.png"
        if target.exists():
            report.already_done += 1
            continue
        rgb = read_or_report(path, report.problems)
        if rgb is None:
            continue
        got = face_crop(rgb, crop, size, det)
        if got is None:
            report.problems.append((str(path), "no face found"))
            continue
        save_image(target, got[0])
        report.made += 1
    return report
