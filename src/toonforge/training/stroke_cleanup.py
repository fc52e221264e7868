"""Clean a teacher's pairs before distillation: no ink strokes on smooth skin.

This step edits the teacher's targets, not the photos, with ``face.skin`` (the skin mask from
each photo's 68 landmarks, and the closing of dark strokes under ``width`` pixels there). The
student distilled from the cleaned pairs learns to leave those strokes out.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import InputError
from ..face.landmarks68 import FaceJobReport, Landmarks68
from ..face.skin import remove_skin_strokes, skin_mask

__all__ = ["CleanReport", "clean_pairs", "remove_skin_strokes", "skin_mask"]

CleanReport = FaceJobReport  # what clean_pairs did


def clean_pairs(pairs: str | os.PathLike[str], out: str | os.PathLike[str], *, width: int = 7,
                detector=None, progress: bool = True) -> CleanReport:
    """``pairs/{photo,style}`` -> ``out/{photo,style}`` with skin strokes removed from the styles.

    ``out/photo`` holds links to the original photos; ``out/style`` the cleaned targets (a
    target whose photo shows no face with 68 landmarks is copied unchanged and listed). Files
    already in ``out/style`` are kept, so a stopped run resumes; nothing in ``pairs`` changes.
    ``detector``: any callable ``rgb -> list[Face]`` (default: dlib).
    """
    from tqdm.auto import tqdm

    from ..io.images import list_images, load_image, save_image

    src = Path(pairs)
    photos = list_images(src / "photo") if (src / "photo").is_dir() else []
    if not photos:
        raise InputError(f"{src} holds no pairs (expected {src}/photo and {src}/style)")
    dst = Path(out)
    if dst.resolve() == src.resolve():
        raise InputError("-o/--output is the pairs folder itself; write the cleaned pairs elsewhere")
    (dst / "photo").mkdir(parents=True, exist_ok=True)
    (dst / "style").mkdir(parents=True, exist_ok=True)
    report = CleanReport()
    find_landmarks = Landmarks68(detector)
    for photo in tqdm(photos, desc="cleaning pairs", unit="pair", disable=not progress):
        style = src / "style" / photo.name
        cleaned = dst / "style" / photo.name
        if cleaned.exists():
            report.skipped += 1
            continue
        if not style.is_file():
            raise InputError(f"{photo.name} has no target in {src / 'style'}")
        rgb, drawing = load_image(photo).rgb, load_image(style).rgb
        if rgb.shape[0] != rgb.shape[1]:
            raise InputError(f"{photo.name}: pairs must be square aligned crops, got {rgb.shape[1]}x{rgb.shape[0]}")
        if drawing.shape != rgb.shape:
            raise InputError(f"{photo.name}: photo {rgb.shape[:2]} and target {drawing.shape[:2]} differ in size")
        landmarks = find_landmarks(rgb)
        if landmarks is not None:
            drawing = remove_skin_strokes(drawing, skin_mask(landmarks, rgb.shape[0]), width)
        else:
            report.no_face.append(photo.stem)
        link = dst / "photo" / photo.name
        if not link.exists():
            link.symlink_to(photo.resolve())
        save_image(cleaned, drawing)
        report.written += 1
    return report
