"""The stages of a recipe: each a function of a :class:`Context` returning the paths it made.

The work folder's layout (every stage writes only there)::

    data/photos-train-src  data/photos-heldout  data/photos-aligned    (links, crops)
    data/styles-train-src  data/styles-heldout  data/styles-train
    stage1/                StyleGAN2 runs (optional stage)
    teacher/phase-N/       the teacher's runs, phase N; teacher/phase-N.pt its frozen last checkpoint
    pairs/photo  pairs/style
    student/               the student's runs;  student.pt its frozen last checkpoint
    style-NAME/            the student's style folder
    style-teacher/         the teacher wrapped as a style (for eval only, never shipped)
    eval/                  report.md, report.json, contact_sheet.png, outputs
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError, ToonforgeError
from ..io.files import atomic_output
from ..io.images import list_images
from .commands import parse_command, run_command
from .manifest import NAME as MANIFEST
from .recipe import Recipe, in_work, option_args
from .runs import last_run, logged_steps, reached
from .splits import link_split


class StageStopped(ToonforgeError):
    """A trainer stopped at its time limit before the stage's last step: rerun to continue."""

    exit_code = 3


@dataclass
class Context:
    recipe: Recipe
    work: Path
    quiet: bool = False

    def table(self, stage: str) -> dict[str, Any]:
        return self.recipe.tables[stage]

    @property
    def device(self) -> str:
        return self.recipe.device

    def source(self, stage: str) -> Path:
        """The work folder holding ``stage``'s outputs: this one, or the one its ``reuse`` names."""
        reuse = self.table(stage).get("reuse")
        return self.work if reuse is None else in_work(reuse, self.work, f"[{stage}] reuse")

    def data(self, name: str) -> Path:
        return self.source("align") / "data" / name

    @property
    def photos(self) -> Path:
        """The training photos the teacher and the pairs use (aligned crops, or the split as is)."""
        return self.data("photos-aligned" if self.table("align").get("photos", True) else "photos-train-src")

    @property
    def styles(self) -> Path:
        return self.data("styles-train" if self.table("align").get("styles", True) else "styles-train-src")

    @property
    def style(self) -> Path:
        return self.work / f"style-{self.recipe.name}"

    def say(self, text: str) -> None:
        if not self.quiet:
            print(f"forge: {text}", flush=True)


def _limit(table: dict[str, Any]) -> list[str]:
    return ["--max-minutes", str(table["minutes"])] if "minutes" in table else []


def _copy_once(src: Path, dst: Path) -> None:
    """Copy ``src`` to ``dst`` (atomically) unless ``dst`` exists: a frozen checkpoint is never replaced."""
    if not dst.exists():
        with atomic_output(dst) as tmp:
            shutil.copyfile(src, tmp)


def _reused(ctx: Context, stage: str) -> list[Path]:
    """A stage taken from another work folder: its manifest must record the stage done."""
    import json

    other = ctx.source(stage)
    try:
        state = json.loads((other / MANIFEST).read_text(encoding="utf-8"))["stages"][stage]["state"]
    except (OSError, ValueError, KeyError, TypeError):
        state = None
    if state != "done":
        raise InputError(f"[{stage}] reuse: {other} has no finished {stage} stage (run its recipe first)")
    ctx.say(f"{stage}: reusing {other}")
    return []


def align(ctx: Context) -> list[Path]:
    """Hash splits (seed 0) of the photos and the styles into links; the training sides aligned
    with ``toonforge align`` unless the recipe says they are used as they are."""
    data, table = ctx.table("data"), ctx.table("align")
    if table["reuse"] is not None:
        return _reused(ctx, "align")
    made = []
    for kind, heldout in (("photos", "heldout_photos"), ("styles", "heldout_styles")):
        train, held = link_split(data[heldout], ctx.data(f"{kind}-train-src"), ctx.data(f"{kind}-heldout"),
                                 data[kind])
        ctx.say(f"{kind}: {train} for training, {held} held out")
        made += [ctx.data(f"{kind}-train-src"), ctx.data(f"{kind}-heldout")]
        if table.get(kind, True):
            out = ctx.data("photos-aligned" if kind == "photos" else "styles-train")
            run_command(["align", "--in", ctx.data(f"{kind}-train-src"), "--out", out, "--quiet",
                         *option_args(table["options"])])
            if not list_images(out):
                raise ToonforgeError(f"no face was aligned in {ctx.data(f'{kind}-train-src')}: set "
                                     f"[align] {kind} = false to use the images as they are")
            made.append(out)
    return made


def stage1(ctx: Context) -> list[Path]:
    """A StyleGAN2 generator of the training styles (``toonforge train-stylegan``), resumed from
    its own last run; its ``last.safetensors`` feeds the teacher's ``--style-generator``."""
    table, runs = ctx.table("stage1"), ctx.work / "stage1"
    run = last_run(runs, "stylegan2")
    run_command(["train-stylegan", "--data", ctx.styles, "--steps", table["steps"], "--runs", runs,
                 "--device", ctx.device, *_limit(table), *(["--resume", run] if run else []),
                 *option_args(table["options"])])
    run = last_run(runs, "stylegan2")
    if run is None or not (run / "last.safetensors").is_file() or table["steps"] not in logged_steps(run):
        raise StageStopped(f"stage 1 in {runs} stopped before step {table['steps']}; rerun the recipe to continue it")
    return [run / "last.safetensors"]


def teacher(ctx: Context) -> list[Path]:
    """The stage-2 DCT-Net teacher, phase by phase: each phase trains in its own runs folder to
    its steps, starting from the previous phase's frozen checkpoint (or the recipe's ``start``),
    or continuing its own last run; when a phase reaches its steps its last checkpoint is frozen
    as ``teacher/phase-N.pt``. A phase cut short by ``minutes`` stops the line (rerun to go on)."""
    table = ctx.table("teacher")
    if table["reuse"] is not None:
        return _reused(ctx, "teacher")
    extra = []
    if ctx.recipe.has("stage1"):
        extra = ["--style-generator", last_run(ctx.work / "stage1", "stylegan2") / "last.safetensors"]
    start = None if table["start"] is None else in_work(table["start"], ctx.work, "[teacher] start")
    made = []
    for i, phase in enumerate(table["phases"], 1):
        runs, frozen = ctx.work / "teacher" / f"phase-{i}", ctx.work / "teacher" / f"phase-{i}.pt"
        run = last_run(runs, "dctnet")
        if not reached(run, phase["steps"]):
            begin = run or start
            ctx.say(f"teacher phase {i}: to step {phase['steps']}" + (f" from {begin}" if begin else ""))
            run_command(["train-dctnet", "--photos", ctx.photos, "--styles", ctx.styles, "--device", ctx.device,
                         *option_args({**table["options"], **phase["options"]}), *extra,
                         "--steps", phase["steps"], "--runs", runs, *_limit(table),
                         *(["--resume", begin] if begin else [])])
            run = last_run(runs, "dctnet")
            if not reached(run, phase["steps"]):
                raise StageStopped(f"the teacher in {runs} stopped before step {phase['steps']}; "
                                   "rerun the recipe to continue it")
        _copy_once(run / "checkpoints" / "latest.pt", frozen)
        start = frozen
        made += [frozen, run / "generator.safetensors"]
    return made


def final_teacher(ctx: Context) -> Path:
    """The run folder of the teacher's last phase (in the reused work folder, if any)."""
    phases = sorted(ctx.source("teacher").glob("teacher/phase-*/"), key=lambda p: int(p.name.split("-")[1]))
    run = last_run(phases[-1], "dctnet") if phases else None
    if run is None:
        raise InputError(f"no teacher run in {ctx.source('teacher') / 'teacher'}")
    return run


def pairs(ctx: Context) -> list[Path]:
    """``toonforge translate`` of every training photo by the teacher (``--crop full``: the photos
    are aligned crops already; ``translate`` resumes from its own manifest)."""
    if ctx.table("pairs")["reuse"] is not None:
        return _reused(ctx, "pairs")
    out = ctx.work / "pairs"
    options = {"crop": "full", "batch-size": 8, **ctx.table("pairs")["options"]}
    run_command(["translate", "--model", final_teacher(ctx), "--in", ctx.photos, "--out", out,
                 "--device", ctx.device, "--quiet", *option_args(options)])
    return [out / "photo", out / "style"]


def student(ctx: Context) -> list[Path]:
    """``toonforge train-translator`` on the pairs, continuing its own last run, else starting
    from the recipe's ``start`` checkpoint: fine-tuning it (``start_as = "resume"``, EMA decay
    0.99 unless the options say otherwise, so the average forgets the start) or growing another
    tier from it (``"init"``: ``--init-from``). Writes the style folder ``style-NAME`` when it
    ends and freezes the last checkpoint as ``student.pt`` (where another recipe can start)."""
    table, runs = ctx.table("student"), ctx.work / "student"
    options = dict(table["options"])
    run = last_run(runs, "translator")
    if run is not None:
        begin = ["--resume", run]
    elif table["start"] is not None:
        start = in_work(table["start"], ctx.work, "[student] start")
        if table.get("start_as", "resume") == "init":
            begin = ["--init-from", start]
        else:
            begin = ["--resume", start]
            options.setdefault("ema-decay", 0.99)
    else:
        begin = []
    if ctx.style.exists():  # left by a killed export: the stage was not recorded done
        shutil.rmtree(ctx.style)
    p = ctx.source("pairs") / "pairs"
    run_command(["train-translator", "--inputs", p / "photo", "--targets", p / "style", "--steps", table["steps"],
                 "--runs", runs, "--device", ctx.device, "--style-out", ctx.style, "--style-name", ctx.recipe.name,
                 *_limit(table), *option_args(options), *begin])
    if not (ctx.style / "config.json").is_file():
        raise StageStopped(f"the student in {runs} stopped before step {table['steps']}; rerun the recipe to "
                           "continue it")
    _copy_once(last_run(runs, "translator") / "checkpoints" / "latest.pt", ctx.work / "student.pt")
    return [ctx.style / "config.json", ctx.work / "student.pt"]


def write_teacher_style(teacher_run: Path, out: Path, name: str) -> Path:
    """A stage-2 teacher's generator (run folder or file) as a style folder, for eval only (a
    teacher is never shipped); an existing complete folder is kept."""
    from ..pipelines.translate import resolve_generator
    from ..training.export_style import write_generator_style

    if not (out / "config.json").is_file():
        write_generator_style(resolve_generator(teacher_run), out, name=name)
    return out


def evaluate(ctx: Context) -> list[Path]:
    """``toonforge eval`` of the student, its teacher (wrapped as ``style-teacher``) and the
    recipe's ``compare`` styles on the held-out photos against the held-out styles."""
    table, out = ctx.table("eval"), ctx.work / "eval"
    teacher_style = ctx.work / "style-teacher"
    if teacher_style.exists() and not (teacher_style / "config.json").is_file():
        shutil.rmtree(teacher_style)  # half written by a killed stage
    write_teacher_style(final_teacher(ctx), teacher_style, f"{ctx.recipe.name}-teacher")
    title = table.get("title") or f"{ctx.recipe.name}: distilled student vs its teacher (held-out photos)"
    compare = [in_work(c, ctx.work, "[eval] compare") if str(c).startswith("{work}") else c for c in table["compare"]]
    run_command(["eval", "--style", ctx.style, teacher_style, *compare, "--photos", ctx.data("photos-heldout"),
                 "--refs", ctx.data("styles-heldout"), "--out", out, "--device", ctx.device, "--title", title,
                 "--overwrite", *(["--quiet"] if ctx.quiet else []), *option_args(table["options"])])
    return [teacher_style / "config.json", out / "report.json", out / "report.md"]


def card(ctx: Context) -> list[Path]:
    """The student's card.md filled with its row of the evaluation (``toonforge card``)."""
    run_command(["card", ctx.style, "--from-report", ctx.work / "eval" / "report.json",
                 *option_args(ctx.table("card")["options"])])
    return [ctx.style / "card.md"]


# Per stage: the command it runs and the words it always passes (placeholders here), so a recipe's
# options can be checked by the command's own parser before any stage runs.
_COMMAND_OF = {
    "align": ["align", "--in", "IN", "--out", "OUT"],
    "stage1": ["train-stylegan", "--data", "STYLES"],
    "teacher": ["train-dctnet", "--photos", "PHOTOS", "--styles", "STYLES"],
    "pairs": ["translate", "--model", "RUN", "--in", "IN", "--out", "OUT"],
    "student": ["train-translator", "--inputs", "IN", "--targets", "OUT"],
    "eval": ["eval", "--style", "STYLE", "--photos", "PHOTOS"],
    "card": ["card", "STYLE", "--from-report", "REPORT"],
}


def check_options(recipe: Recipe) -> None:
    """Parse every stage's options with its command's parser (nothing runs): a misspelt option or
    a bad value is one :class:`InputError` before the line starts."""
    for stage in recipe.stages():
        table = recipe.tables[stage]
        option_sets = [{**table["options"], **phase["options"]} for phase in table["phases"]] \
            if stage == "teacher" else [table["options"]]
        for options in option_sets:
            try:
                parse_command([*_COMMAND_OF[stage], *option_args(options)])
            except InputError as exc:
                raise InputError(f"recipe {recipe.path}: [{stage}] options: {exc}") from None


STAGE_FUNCTIONS = {"align": align, "stage1": stage1, "teacher": teacher, "pairs": pairs, "student": student,
                   "eval": evaluate, "card": card}
