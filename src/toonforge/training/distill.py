"""``toonforge distill``: stage 3 as one resumable command. A teacher style (any: trained, shipped,
imported, a stage-2 generator wrapped as a style) teaches a small translator on real photos.

Steps, each picking up where a killed run stopped (all state lives in the work folder):

1. **split**: the photos are split by name hash (:func:`~.paired_data.split_names`) into training
   photos and held-out photos; ``WORK/split.json`` records it, and a rerun on other photos is refused.
2. **pairs**: the teacher makes the targets through :func:`~..pipelines.translate.translate_folder`
   (its manifest makes it resumable): FFHQ-aligned face crops through the teacher's head network and
   whole photos (mirror-padded squares) through its full-image network, as the stylizer uses them.
3. **train**: the translator of ``tier`` learns the pairs with :class:`~.translator_task.TranslatorTask`
   in the shared loop (``WORK/runs``; a rerun resumes the last checkpoint).
4. **style**: the EMA student becomes a style folder with a checked ``head.onnx``
   (:func:`~.export_style.write_translator_style`), keeping the teacher's skin cleanup and reshape.
5. **eval**: ``toonforge eval`` of teacher and student on the held-out photos, with the teacher's own
   outputs as the reference set (FD-MNv2 student -> teacher), identity and speed; the card gets the
   table and the speed ratio.

The style folder appears at ``output`` only when every step is done (built in ``WORK/staging``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import InputError
from ..io.files import atomic_write_text, file_sha256
from ..styles.post import PostSettings

CROP_KINDS = ("aligned", "full")


@dataclass
class DistillConfig:
    """Settings of one distillation (recorded in ``WORK/distill.json``).

    teacher: style name or folder. photos: folder of real photos. output: the student style folder.
    work: the work folder (pairs, runs, eval). tier: translator tier. size: side of the pairs and
    the student's head resolution (multiple of 16). crop: "both", "aligned" or "full". steps,
    batch_size, lr, w_perceptual, w_gan, gan_start: the translator's training. heldout: fraction of
    photos held out for the evaluation. evaluate: run step 5. eval_size: long side outputs are
    measured at. detector: face detector name ("none": full crops only, no identity).
    """

    teacher: str
    photos: str
    output: str
    work: str
    tier: str = "small"
    size: int = 256
    crop: str = "both"
    steps: int = 2000
    batch_size: int = 8
    lr: float = 5e-4
    w_perceptual: float = 0.3
    w_gan: float = 0.05
    gan_start: int = 500
    heldout: float = 0.1
    seed: int = 0
    evaluate: bool = True
    eval_size: int = 256
    detector: str = "dlib"
    device: str = "cpu"
    max_minutes: float | None = None
    checkpoint_every: int = 200
    quiet: bool = False
    crop_size: int | None = None  # train on random crops of the pairs (see train-translator --crop-size)
    tone_augment: float = 0.0  # shared dim/warm tone shift probability (see training.tone_augment)

    def check(self) -> None:
        if self.size % 16 or not 32 <= self.size <= 1024:
            raise InputError(f"--size must be a multiple of 16 in 32..1024, got {self.size}")
        if self.crop not in ("both", *CROP_KINDS):
            raise InputError(f"--crop must be both, aligned or full, got {self.crop!r}")
        if self.detector == "none" and self.crop != "full":
            raise InputError("--detector none finds no faces: use --crop full")
        if not 0.0 <= self.heldout < 1.0:
            raise InputError(f"--heldout must be in [0, 1), got {self.heldout}")
        if self.steps < 1 or self.batch_size < 1:
            raise InputError("--steps and --batch-size must be at least 1")
        from .translator_task import check_sizes

        check_sizes(self.size, self.crop_size, self.tone_augment)


@dataclass
class DistillResult:
    """What :func:`distill` did: the style folder (None while training is unfinished) and the eval."""

    style: Path | None
    work: Path
    step: int
    pairs: int
    eval_table: str = ""
    generator: Path | None = None  # the multi-style student's model file (several teachers)


def _say(cfg: DistillConfig, text: str) -> None:
    if not cfg.quiet:
        print(text, file=sys.stderr, flush=True)


def style_digest(path: Path) -> str:
    """SHA-256 (16 hex digits) over a style folder's files (names and contents): which teacher made the pairs."""
    h = hashlib.sha256()
    for f in sorted(p for p in path.iterdir() if p.is_file()):
        h.update(f.name.encode() + b"\0" + file_sha256(f).encode())
    return h.hexdigest()[:16]


def _link(src: Path, dst: Path) -> None:
    """``dst`` as a hard link to ``src`` (a copy where links are not possible)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def _fresh_dir(path: Path) -> Path:
    """An empty folder at ``path`` (inside the work folder: whatever was there is ours)."""
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def split_photos(cfg: DistillConfig, work: Path) -> tuple[list[Path], list[Path]]:
    """(training photos, held-out photos); recorded in ``WORK/split.json`` and checked on reruns."""
    from ..pipelines.crops import collect_photos
    from .paired_data import split_names

    files = collect_photos(Path(cfg.photos))
    by_stem = {f.stem: f for f in files}
    if len(files) < 2:
        raise InputError(f"{cfg.photos}: distillation needs at least 2 photos, found {len(files)}")
    train, held = split_names(list(by_stem), cfg.heldout, cfg.seed) if cfg.heldout > 0 else (sorted(by_stem), [])
    record = {"photos": str(Path(cfg.photos).resolve()), "train": train, "heldout": held}
    path = work / "split.json"
    if path.is_file():
        old = json.loads(path.read_text(encoding="utf-8"))
        if old != record:
            raise InputError(f"{work} was made from other photos or another --heldout/--seed; "
                             "use another --work folder")
    else:
        atomic_write_text(path, json.dumps(record, indent=1) + "\n")
    return [by_stem[s] for s in train], [by_stem[s] for s in held]


def teacher_pairs(cfg: DistillConfig, teacher, photos: list[Path], work: Path, *,
                  pairs: Path | None = None, view_dir: Path | None = None):
    """Step 2: pairs from the teacher (``pairs``, default ``WORK/pairs``) and the training view
    ``view_dir/{photo,style}`` (default ``WORK/train``) of hard links to them."""
    pairs = work / "pairs" if pairs is None else pairs
    view_dir = work / "train" if view_dir is None else view_dir
    from ..pipelines.stylizer import Stylizer
    from ..pipelines.translate import PairMaker, translate_folder

    stylizer = Stylizer(teacher, detector=None, device=cfg.device)
    maker = PairMaker(
        str(teacher.path), style_digest(teacher.path),
        lambda kind, crops: stylizer.stylize_crops(crops, role="head" if kind == "aligned" else "full"),
        size=cfg.size,
    )
    rep = translate_folder(maker, photos, pairs, crop=cfg.crop, size=cfg.size,
                           batch_size=cfg.batch_size, detector=cfg.detector, quiet=cfg.quiet)
    for src, why in rep.problems:
        _say(cfg, f"skipped {src}: {why}")
    kinds = list(CROP_KINDS) if cfg.crop == "both" else [cfg.crop]
    view = {part: _fresh_dir(view_dir / part) for part in ("photo", "style")}
    count = 0
    for kind in kinds:
        base = pairs / kind if cfg.crop == "both" else pairs
        for target in sorted((base / "style").glob("*.png")):
            photo = base / "photo" / target.name
            if photo.is_file():
                _link(photo, view["photo"] / f"{kind}-{target.name}")
                _link(target, view["style"] / f"{kind}-{target.name}")
                count += 1
    if count == 0:
        raise InputError(f"the teacher made no pairs from {cfg.photos} (see the skipped photos above)")
    _say(cfg, f"pairs: {rep.made} new, {rep.already_done} already made; {count} in training")
    return view, count


def _last_run(runs: Path) -> Path | None:
    """The newest run folder with a checkpoint; run folders a kill left without one are removed."""
    found = None
    for d in sorted(runs.iterdir()) if runs.is_dir() else []:
        if not d.is_dir():
            continue
        if (d / "checkpoints" / "latest.pt").is_file():
            found = d
        else:
            shutil.rmtree(d)
    return found


def train_student(cfg: DistillConfig, view: dict[str, Path], work: Path, styles: list[str] | None = None):
    """Step 3: the translator on the pairs in the shared loop, resuming ``WORK/runs``' last run.
    With ``styles``, the multi-style translator on ``view["style"]/<style>/`` for each."""
    from .loop import LoopConfig, train
    from .translator_task import TranslatorTask, TranslatorTrainConfig

    tcfg = TranslatorTrainConfig(
        inputs=str(view["photo"]), targets=str(view["style"]), tier=cfg.tier, size=cfg.size, lr_g=cfg.lr,
        w_perceptual=cfg.w_perceptual, w_gan=cfg.w_gan, gan_start=cfg.gan_start, seed=cfg.seed,
        crop_size=cfg.crop_size, tone_augment=cfg.tone_augment,
    )
    if styles is None:
        task = TranslatorTask(tcfg)
    else:
        from .multi_translator_task import MultiTranslatorTask

        task = MultiTranslatorTask(tcfg, styles)
    loop = LoopConfig(total_steps=cfg.steps, batch_size=cfg.batch_size, checkpoint_every=cfg.checkpoint_every,
                      eval_every=cfg.checkpoint_every, seed=cfg.seed, max_minutes=cfg.max_minutes,
                      ema_start=min(cfg.gan_start, cfg.steps), progress=not cfg.quiet, tensorboard=False)
    runs = work / "runs"
    resume = _last_run(runs)
    if resume is not None:
        _say(cfg, f"resuming {resume}")
    return task, train(task, loop, runs_root=runs, resume=resume, device=cfg.device)


def teacher_outputs(stylizer, photos: list[Path], folder: Path, size: int) -> Path:
    """The teacher's whole-pipeline outputs of ``photos`` at long side ``size``: the FD reference set."""
    from ..io.images import load_image, resize_rgb, save_image, scaled_size

    _fresh_dir(folder)
    for p in photos:
        out = stylizer(load_image(p).rgb).image
        h, w = out.shape[:2]
        save_image(folder / f"{p.stem}.png", resize_rgb(out, scaled_size(w, h, size)))
    return folder


def distill_table(report, teacher_label: str, student_label: str) -> str:
    """Markdown: student vs teacher (FD-MNv2 to the teacher's outputs, identity, speed and its ratio)."""
    t, s = report.row(teacher_label), report.row(student_label)

    def f(v, fmt="{:.3f}"):
        return "n/a" if v is None else fmt.format(v)

    ratio = (s.images_per_second / t.images_per_second
             if s.images_per_second and t.images_per_second else None)
    lines = [f"| | {report.fd_label} to the teacher's outputs | identity | images/s | speed vs teacher |",
             "|---|---|---|---|---|"]
    rows = [(f"teacher `{teacher_label}`", t, "1.00x"), (f"student `{student_label}`", s, f(ratio, "{:.2f}x"))]
    rows += [(f"{r.name} (for scale)", r, "") for r in report.rows if r.kind == "baseline"]
    for label, row, r in rows:
        lines.append(f"| {label} | {f(row.fd, '{:.2f}')} | {f(row.identity)} | "
                     f"{f(row.images_per_second, '{:.2f}')} | {r} |")
    return "\n".join(lines)


def _teacher_style(teacher: str, work: Path) -> str:
    """``teacher`` itself, or for a stage-2 generator (a ``.safetensors`` file, or a run folder holding
    one) the style folder wrapping it, written once into ``WORK/teacher/``."""
    p = Path(teacher)
    if not (p.suffix.lower() == ".safetensors" or (p.is_dir() and not (p / "config.json").is_file())):
        return teacher
    from ..pipelines.translate import resolve_generator
    from .export_style import write_generator_style

    gen = resolve_generator(p)
    folder = work / "teacher" / f"{gen.parent.name if p.is_dir() else gen.stem}-{file_sha256(gen)[:12]}"
    if not (folder / "config.json").is_file():
        write_generator_style(gen, folder, name=folder.name)
    return str(folder)


def record_settings(cfg: DistillConfig, work: Path, teacher_digest: str | dict[str, str]) -> dict:
    """Write ``WORK/distill.json``, refusing a work folder made with another teacher (or teachers),
    tier, size, crop, seed or held-out share; returns the record."""
    settings = work / "distill.json"
    record = asdict(cfg) | {"teacher_digest": teacher_digest}
    keys = ("teacher_digest", "tier", "size", "crop", "seed", "heldout")
    if settings.is_file():
        old = json.loads(settings.read_text(encoding="utf-8"))
        for k in keys:
            if old.get(k) != record[k]:
                raise InputError(f"{work} holds a distillation with {k} {old.get(k)!r}, not {record[k]!r}; "
                                 "use another --work folder")
    atomic_write_text(settings, json.dumps(record, indent=1) + "\n")
    return record


def distill(cfg: DistillConfig, command: str = "") -> DistillResult:
    """Run (or continue) the five steps of the module docstring."""
    from ..styles.registry import load_style
    from ..styles.style import Style

    cfg.check()
    out, work = Path(cfg.output), Path(cfg.work)
    if out.exists():
        raise InputError(f"{out} already exists; choose a new -o for the student style")
    work.mkdir(parents=True, exist_ok=True)
    teacher = load_style(_teacher_style(cfg.teacher, work))
    if teacher.path is None:
        raise InputError(f"style {cfg.teacher!r} has no folder")
    record = record_settings(cfg, work, style_digest(teacher.path))

    train_photos, held = split_photos(cfg, work)
    view, n_pairs = teacher_pairs(cfg, teacher, train_photos, work)
    task, result = train_student(cfg, view, work)
    if result.step < cfg.steps:
        _say(cfg, f"stopped at step {result.step}/{cfg.steps}; rerun the same command to continue")
        return DistillResult(None, work, result.step, n_pairs)

    from .export_style import write_translator_style

    name = out.name
    staging = _fresh_dir(work / "staging") / name
    description = f"translator/{cfg.tier} distilled from {teacher.name}"
    write_translator_style(task, result, staging, name=name, head_resolution=cfg.size,
                           full_resolution=teacher.config.full_resolution, description=description)
    student = Style.load(staging)
    PostSettings.of(teacher.config).apply_to(student.config)  # reshape, skin cleanup, kept colours
    atomic_write_text(staging / "config.json", json.dumps(student.config.to_dict(), indent=2) + "\n")
    card = [(staging / "card.md").read_text(encoding="utf-8").rstrip("\n"), "", "## Distillation",
            f"- Teacher: style `{teacher.name}` from `{teacher.path}` (files SHA-256 {record['teacher_digest']}); "
            "its card's data and licence terms apply to this student too.",
            f"- Photos: `{cfg.photos}`, {len(train_photos)} for pairs ({cfg.crop} crops, {n_pairs} pairs at "
            f"{cfg.size} px), {len(held)} held out for the evaluation.",
            f"- Command: `{command}`" if command else "", ""]
    table = ""
    if cfg.evaluate and held:
        table = evaluate_student(cfg, teacher, staging, held, work, command)
        card += ["## Student vs teacher (held-out photos)", "", table, ""]
    atomic_write_text(staging / "card.md", "\n".join(card))
    out.parent.mkdir(parents=True, exist_ok=True)
    os.replace(staging, out)
    return DistillResult(out, work, result.step, n_pairs, table)


def evaluate_student(cfg: DistillConfig, teacher, student_dir: Path, held: list[Path], work: Path,
                     command: str) -> str:
    """Step 5: ``toonforge eval`` of teacher and student on the held-out photos; returns the table."""
    from ..evaluation.runner import EvalOptions, evaluate, style_label

    photos = _fresh_dir(work / "heldout")
    for p in held:
        _link(p, photos / p.name)
    from ..pipelines.stylizer import Stylizer

    whole = Stylizer(teacher, detector=None if cfg.detector == "none" else cfg.detector, device=cfg.device)
    refs = teacher_outputs(whole, held, work / "teacher_outputs", cfg.eval_size)
    opts = EvalOptions(size=cfg.eval_size, device=cfg.device, detector=None if cfg.detector == "none" else cfg.detector,
                       progress=not cfg.quiet, speed_photos=min(24, len(held)))
    eval_dir = _fresh_dir(work / "eval")
    teacher_arg = str(teacher.path)
    report = evaluate([teacher_arg, str(student_dir)], photos, refs, eval_dir, opts,
                      title="Distillation: student vs teacher", command=command)
    table = distill_table(report, style_label(teacher_arg), style_label(str(student_dir)))
    _say(cfg, table)
    return table
