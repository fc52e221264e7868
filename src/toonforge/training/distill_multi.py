"""``toonforge distill T1 T2 ...``: several teacher styles teach one multi-style translator.

The steps of :mod:`.distill`, with one pair set per teacher:

1. **split** of the photos, as for one teacher (``WORK/split.json``), shared by every teacher;
2. **pairs**: each teacher makes its pairs in ``WORK/pairs/<teacher>/`` (resumable, as for one);
   the training view is ``WORK/train/photo/`` (the photo crops, the same for every teacher) and
   ``WORK/train/targets/<teacher>/`` (that teacher's stylized crops), hard links all;
3. **train**: :class:`~.multi_translator_task.MultiTranslatorTask` with the teachers' style names
   as its styles, on the shared loop (``WORK/runs``; a rerun resumes); the EMA generator is
   ``RUN/generator.safetensors``, a ``translator-multi`` model file.

4. **style**: the EMA student becomes a multi-style folder at ``-o`` (built in ``WORK/staging``,
   then moved), each style keeping its teacher's post-processing (keep_colours, reshape, skin
   cleanup). The per-teacher evaluation is not run here: ``toonforge eval --style OUT@NAME``
   measures each style of it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from ..errors import InputError
from ..io.files import file_sha256
from .distill import (
    DistillConfig,
    DistillResult,
    _fresh_dir,
    _link,
    _say,
    _teacher_style,
    record_settings,
    split_photos,
    style_digest,
    teacher_pairs,
    train_student,
)


def distill_many(cfg: DistillConfig, teachers: list[str], command: str = "") -> DistillResult:
    """Run (or continue) the steps of the module docstring for ``teachers`` (two or more styles)."""
    from ..styles.registry import load_style
    from .multi_translator_task import save_generator

    cfg.check()
    if len(teachers) < 2:
        raise InputError("a multi-style distillation needs two or more teachers")
    out, work = Path(cfg.output), Path(cfg.work)
    if out.exists():
        raise InputError(f"{out} already exists; choose a new -o for the student style")
    work.mkdir(parents=True, exist_ok=True)
    styles = [load_style(_teacher_style(t, work)) for t in teachers]
    names = [s.name for s in styles]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise InputError(f"teachers named {', '.join(repeated)} more than once: each teacher is a style of the student")
    for given, style in zip(teachers, styles):
        if style.path is None:
            raise InputError(f"style {given!r} has no folder")
    record_settings(cfg, work, {n: style_digest(s.path) for n, s in zip(names, styles)})

    train_photos, _held = split_photos(cfg, work)
    view = {"photo": _fresh_dir(work / "train" / "photo"), "style": _fresh_dir(work / "train" / "targets")}
    total = 0
    for name, teacher in zip(names, styles):
        _say(cfg, f"teacher {name}:")
        own = work / "train" / "by-teacher" / name
        tv, count = teacher_pairs(cfg, teacher, train_photos, work, pairs=work / "pairs" / name, view_dir=own)
        merge_photos(tv["photo"], view["photo"], name)
        tv["style"].rename(view["style"] / name)
        total += count
    shutil.rmtree(work / "train" / "by-teacher")

    task, result = train_student(cfg, view, work, styles=names)
    generator = save_generator(task, result.run_dir, result.step)
    if result.step < cfg.steps:
        _say(cfg, f"stopped at step {result.step}/{cfg.steps}; rerun the same command to continue")
        return DistillResult(None, work, result.step, total, generator=generator)
    from .export_style import write_multi_style

    staging = _fresh_dir(work / "staging") / out.name
    write_multi_style(task.generator(), staging, {n: str(s.path) for n, s in zip(names, styles)},
                      name=out.name, head_resolution=cfg.size,
                      description=f"translator-multi/{cfg.tier} distilled from {', '.join(names)}")
    out.parent.mkdir(parents=True, exist_ok=True)
    os.replace(staging, out)
    _say(cfg, f"wrote the {len(names)}-style student ({', '.join(names)}) to {out}; measure each style with "
              f"`toonforge eval --style {out}@{names[0]} ...`")
    return DistillResult(out, work, result.step, total, generator=generator)


def merge_photos(src: Path, dst: Path, teacher: str) -> None:
    """Link ``src``'s photo crops into ``dst``; a crop another teacher already put there must be the
    same file content (the targets of every teacher pair with one photo crop per name)."""
    for f in sorted(src.iterdir()):
        there = dst / f.name
        if not there.exists():
            _link(f, there)
        elif not there.samefile(f) and file_sha256(there) != file_sha256(f):
            raise InputError(f"teacher {teacher}: its photo crop {f.name} differs from an earlier teacher's "
                             "(pairs made with another detector or size?); use a new --work folder")
