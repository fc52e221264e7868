"""Running a recipe's stages in order, skipping those its work folder records as done."""

from __future__ import annotations

import time
from pathlib import Path

from ..errors import InputError
from .manifest import Manifest, settings_digest
from .recipe import WORK, Recipe, in_work, load_recipe
from .stages import STAGE_FUNCTIONS, Context, check_options


def default_workdir(recipe: Recipe) -> Path:
    """``forge-NAME`` in the current folder."""
    return Path(f"forge-{recipe.name}")


def stage_settings(recipe: Recipe) -> dict[str, str]:
    """Each stage's settings digest: its own table, the data, the device and the digest of the
    stage before it (so a change upstream marks everything after it as changed)."""
    digests, before = {}, settings_digest({"data": recipe.tables["data"], "device": recipe.device,
                                           "name": recipe.name})
    for stage in recipe.stages():
        before = digests[stage] = settings_digest({"table": recipe.tables[stage], "before": before})
    return digests


def check_other_folders(recipe: Recipe, work: Path) -> None:
    """Every ``{work}/...`` path of the recipe (another line's folders and checkpoints) exists,
    before this line writes anything."""
    for stage in recipe.stages():
        table = recipe.tables[stage]
        for key in ("reuse", "start"):
            if isinstance(table.get(key), str):
                in_work(table[key], work, f"[{stage}] {key}")
        for style in table.get("compare", []) if stage == "eval" else []:
            if isinstance(style, str) and style.startswith(WORK):
                in_work(style, work, "[eval] compare")


def run_recipe(recipe: Recipe | str | Path, work: Path | None = None, *, until: str | None = None,
               quiet: bool = False) -> dict[str, str]:
    """Run ``recipe``'s stages into ``work`` (default :func:`default_workdir`), up to and
    including ``until``. Returns ``{stage: "done" | "skipped"}``. A stage recorded done (same
    settings, outputs present) is skipped; any other stage runs, a killed one again from its
    trainers' last checkpoints. Running a stage forgets the records of the stages after it (they
    read what it makes), so they run too, now or in a later call."""
    if not isinstance(recipe, Recipe):
        recipe = load_recipe(recipe)
    stages = recipe.stages()
    if until is not None and until not in stages:
        raise InputError(f"--until {until}: this recipe's stages are {', '.join(stages)}")
    check_options(recipe)
    work = Path(work) if work is not None else default_workdir(recipe)
    check_other_folders(recipe, work)
    manifest = Manifest.open(work, recipe.path)
    ctx = Context(recipe, work, quiet)
    settings = stage_settings(recipe)
    result = {}
    for stage in stages:
        if manifest.is_done(stage, settings[stage]):
            ctx.say(f"{stage}: done already, skipped")
            result[stage] = "skipped"
        else:
            if manifest.state(stage).get("state") == "running":
                ctx.say(f"{stage}: was stopped before it ended; running it again")
            manifest.mark_running(stage, settings[stage], later=stages[stages.index(stage) + 1:])
            started = time.perf_counter()
            outputs = STAGE_FUNCTIONS[stage](ctx)
            manifest.mark_done(stage, settings[stage], outputs)
            ctx.say(f"{stage}: done in {time.perf_counter() - started:.0f} s")
            result[stage] = "done"
        if stage == until:
            break
    return result
