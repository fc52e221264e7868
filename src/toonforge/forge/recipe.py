"""Reading and checking a style recipe (TOML).

A recipe file, with paths relative to the file itself::

    name = "sketch"                      # the style's name (the student's style folder)
    device = "cpu"                       # every stage's torch device

    [data]
    photos = ["photos-a", "photos-b"]    # folders of portrait photos
    styles = ["drawings"]                # folders of style images
    heldout_photos = 0.05                # hash split (seed 0) kept out of every stage
    heldout_styles = 0.12

    [align]                              # optional table; these are the defaults
    reuse = ""                           # another work folder whose splits and crops to use
    photos = true                        # align the training photos (false: use them as they are)
    styles = true
    options = { size = 256 }             # of `toonforge align`

    [stage1]                             # optional: `toonforge train-stylegan` on the styles
    steps = 2000
    options = { size = 256 }

    [teacher]                            # `toonforge train-dctnet`, options shared by its phases
    minutes = 90                         # at most this long per call (a rerun continues)
    start = ""                           # a checkpoint the first phase continues ("" = fresh)
    reuse = ""                           # or: another work folder's finished teacher (no phases)
    options = { size = 256, batch-size = 2 }
    [[teacher.phases]]                   # in order; each continues the last one's checkpoint
    steps = 1400
    options = { checkpoint-every = 200 }

    [pairs]                              # `toonforge translate`
    reuse = ""                           # or: another work folder's pairs
    options = { batch-size = 8 }

    [student]                            # `toonforge train-translator`
    steps = 800
    minutes = 30
    start = ""                           # a student checkpoint to fine-tune ("" = fresh)
    start_as = "resume"                  # resume: continue it (EMA 0.99); init: grow a tier from it
    options = { tier = "small", size = 256 }

    [eval]                               # optional: `toonforge eval` on the held-out sets
    compare = ["classic"]                # styles shown beside the student and its teacher
    title = "sketch: student vs teacher"
    options = { backend = "torch" }

    [card]                               # optional (needs [eval]): `toonforge card`
    options = {}

A path written ``{work}/...`` is taken in the work folder (``{work}/../sketch/student.pt``: the
frozen student of the ``sketch`` recipe run beside this one), and is looked for when its stage
starts; other paths are relative to the recipe file and must exist. ``options`` tables map a
command's long option (without ``--``) to its value: ``true`` is a bare flag, ``false`` leaves it
out, a list gives several values. Options the line sets itself (the folders, ``--steps``,
``--resume``, ...) are refused there.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the same parser, from PyPI (pyproject.toml)
    import tomli as tomllib

# Per stage: the keys its table may have, and the options the line passes itself.
_KEYS = {
    "data": {"photos", "styles", "heldout_photos", "heldout_styles"},
    "align": {"reuse", "photos", "styles", "options"},
    "stage1": {"steps", "minutes", "options"},
    "teacher": {"minutes", "start", "reuse", "options", "phases"},
    "pairs": {"reuse", "options"},
    "student": {"steps", "minutes", "start", "start_as", "options"},
    "eval": {"compare", "title", "options"},
    "card": {"options"},
}
RESERVED = {
    "align": {"in", "out", "quiet"},
    "stage1": {"data", "steps", "runs", "resume", "max-minutes", "device"},
    "teacher": {"photos", "styles", "steps", "runs", "resume", "max-minutes", "device", "style-generator"},
    "pairs": {"model", "in", "out", "device", "quiet"},
    "student": {"inputs", "targets", "steps", "runs", "resume", "init-from", "max-minutes", "device",
                "style-out", "style-name"},
    "eval": {"style", "photos", "refs", "out", "title", "overwrite", "device"},
    "card": {"photos", "refs", "from-report", "out", "device"},
}
REQUIRED = ("teacher", "student")  # and [data], unless [align] reuses another work folder's


@dataclass(frozen=True)
class Recipe:
    """A checked recipe: ``tables`` holds each present stage's table (``align`` and ``pairs``
    always, filled with their defaults), paths already resolved against ``base``."""

    path: Path
    name: str
    device: str
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)

    def has(self, stage: str) -> bool:
        return stage in self.tables

    def stages(self) -> list[str]:
        from . import STAGES

        return [s for s in STAGES if s in self.tables]


def _fail(path: Path, message: str) -> InputError:
    return InputError(f"recipe {path}: {message}")


def _options(path: Path, stage: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(path, f"[{stage}] options must be a table of option = value")
    for key, v in value.items():
        if key.startswith("-") or key != key.strip() or not key:
            raise _fail(path, f"[{stage}] option {key!r}: write the option name without dashes")
        if key in RESERVED.get(stage, ()):
            raise _fail(path, f"[{stage}] option {key!r} is set by the line itself")
        if isinstance(v, dict) or (isinstance(v, list) and any(isinstance(x, (dict, list)) for x in v)):
            raise _fail(path, f"[{stage}] option {key!r} must be a value or a list of values")
    return dict(value)


def _number(path: Path, where: str, value: Any, *, low: float, high: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < low or \
            (high is not None and value > high):
        span = f"in [{low}, {high}]" if high is not None else f">= {low}"
        raise _fail(path, f"{where} must be a number {span}, got {value!r}")
    return value


def _folders(path: Path, where: str, value: Any) -> list[Path]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(v, str) and v for v in items):
        raise _fail(path, f"{where} must be a folder or a list of folders")
    folders = [(path.parent / v).resolve() for v in items]
    for folder in folders:
        if not folder.is_dir():
            raise _fail(path, f"{where}: folder not found: {folder}")
    return folders


WORK = "{work}"


def recipe_path(path: Path, where: str, value: str) -> Path | str:
    """A recipe's path: ``{work}/...`` kept as text (see :func:`in_work`), others resolved against
    the recipe file's folder and required to exist."""
    if value.startswith(WORK):
        return value
    resolved = (path.parent / value).resolve()
    if not resolved.exists():
        raise _fail(path, f"{where}: not found: {resolved}")
    return resolved


def in_work(value: Path | str, work: Path, where: str) -> Path:
    """A path of the recipe as a real path, ``{work}`` replaced by the work folder; it must exist."""
    resolved = Path(str(value).replace(WORK, str(work), 1)).resolve() if isinstance(value, str) else value
    if not resolved.exists():
        raise InputError(f"{where}: {resolved} not found (run the recipe that makes it first)")
    return resolved


def _check_table(path: Path, stage: str, table: Any) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise _fail(path, f"{stage} must be a table ([{stage}])")
    unknown = sorted(set(table) - _KEYS[stage])
    if unknown:
        raise _fail(path, f"[{stage}] has unknown keys {', '.join(unknown)} (known: "
                          f"{', '.join(sorted(_KEYS[stage]))})")
    out = dict(table)
    out["options"] = _options(path, stage, table.get("options", {}))
    for key in ("steps",):
        if key in table:
            out[key] = int(_number(path, f"[{stage}] {key}", table[key], low=1))
    if "minutes" in table:
        out["minutes"] = _number(path, f"[{stage}] minutes", table["minutes"], low=0)
    for key in ("start", "reuse"):
        value = table.get(key) or None
        if value is not None and not isinstance(value, str):
            raise _fail(path, f"[{stage}] {key} must be a path")
        out[key] = None if value is None else recipe_path(path, f"[{stage}] {key}", value)
    if table.get("start_as", "resume") not in ("resume", "init"):
        raise _fail(path, f"[{stage}] start_as must be resume or init")
    return out


def load_recipe(path: str | Path) -> Recipe:
    """Read and check the recipe at ``path``; every problem is one :class:`InputError` line."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"recipe not found: {p}")
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise _fail(p, f"not valid TOML ({exc})") from None
    p = p.resolve()
    unknown = sorted(set(raw) - set(_KEYS) - {"name", "device"})
    if unknown:
        raise _fail(p, f"unknown keys or tables {', '.join(unknown)} (known: name, device, "
                       f"{', '.join(_KEYS)})")
    name = raw.get("name")
    if not isinstance(name, str) or not name or "/" in name or name.startswith("."):
        raise _fail(p, "name must be a style name (no '/')")
    device = raw.get("device", "cpu")
    if not isinstance(device, str) or not device:
        raise _fail(p, "device must be a torch device such as cpu or cuda")
    for stage in REQUIRED:
        if stage not in raw:
            raise _fail(p, f"missing [{stage}]")
    if "card" in raw and "eval" not in raw:
        raise _fail(p, "[card] needs [eval] (the card is filled from the evaluation)")
    tables: dict[str, dict[str, Any]] = {}
    reuses_data = isinstance(raw.get("align"), dict) and bool(raw["align"].get("reuse"))
    if "data" not in raw and not reuses_data:
        raise _fail(p, "missing [data] (or [align] reuse = another work folder)")
    data = raw.get("data", {})
    if not isinstance(data, dict) or set(data) - _KEYS["data"]:
        raise _fail(p, f"[data] takes only {', '.join(sorted(_KEYS['data']))}")
    if reuses_data:
        if data:
            raise _fail(p, "[data] and [align] reuse exclude each other (the reused folder has its data)")
        tables["data"] = {}
    else:
        tables["data"] = {
            "photos": _folders(p, "[data] photos", data.get("photos")),
            "styles": _folders(p, "[data] styles", data.get("styles")),
            "heldout_photos": _number(p, "[data] heldout_photos", data.get("heldout_photos", 0.05), low=0,
                                      high=0.9),
            "heldout_styles": _number(p, "[data] heldout_styles", data.get("heldout_styles", 0.12), low=0,
                                      high=0.9),
        }
    for stage in ("align", "stage1", "teacher", "pairs", "student", "eval", "card"):
        if stage in raw or stage in ("align", "pairs"):
            tables[stage] = _check_table(p, stage, raw.get(stage, {}))
    for key in ("photos", "styles"):
        if not isinstance(tables["align"].get(key, True), bool):
            raise _fail(p, f"[align] {key} must be true or false")
    phases = raw["teacher"].get("phases", [])
    if tables["teacher"]["reuse"] is not None:
        if phases or tables["teacher"]["start"] is not None:
            raise _fail(p, "[teacher] reuse takes another work folder's teacher: give no phases or start")
    elif not isinstance(phases, list) or not phases:
        raise _fail(p, "[teacher] needs at least one [[teacher.phases]] with its steps")
    checked = []
    for i, phase in enumerate(phases):
        if not isinstance(phase, dict) or set(phase) - {"steps", "options"} or "steps" not in phase:
            raise _fail(p, f"teacher phase {i + 1}: give steps (and optionally options), nothing else")
        checked.append({"steps": int(_number(p, f"teacher phase {i + 1} steps", phase["steps"], low=1)),
                        "options": _options(p, "teacher", phase.get("options", {}))})
    if any(b["steps"] <= a["steps"] for a, b in zip(checked, checked[1:])):
        raise _fail(p, "teacher phases must end at growing steps (each continues the last)")
    tables["teacher"]["phases"] = checked
    if "steps" not in tables["student"]:
        raise _fail(p, "[student] needs steps")
    if "stage1" in tables and "steps" not in tables["stage1"]:
        raise _fail(p, "[stage1] needs steps")
    if "eval" in tables:
        ev = tables["eval"]
        compare = ev.get("compare", ["classic"])
        if not isinstance(compare, list) or not all(isinstance(c, str) and c for c in compare):
            raise _fail(p, "[eval] compare must be a list of style names or folders")
        ev["compare"] = [c if c.startswith(WORK) or "/" not in c else recipe_path(p, "[eval] compare", c)
                         for c in compare]
        if not isinstance(ev.get("title", ""), str):
            raise _fail(p, "[eval] title must be text")
    return Recipe(path=p, name=name, device=device, tables=tables)


def option_args(options: dict[str, Any]) -> list[str]:
    """``{"batch-size": 8, "colour-relative": True, "style": ["a", "b"]}`` as command-line words."""
    words: list[str] = []
    for key, value in options.items():
        if value is False:
            continue
        words.append(f"--{key}")
        if value is True:
            continue
        words.extend(str(v) for v in (value if isinstance(value, list) else [value]))
    return words
