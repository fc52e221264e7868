"""The work folder's record of its stages: ``forge.json``, rewritten atomically.

``{"format": "toonforge-forge-1", "recipe": PATH, "stages": {STAGE: {"state": "running" |
"done", "settings": DIGEST, "outputs": [RELATIVE PATHS]}}}``. A stage is marked running before
it starts and done (with its outputs) when it ends, so a stage found running was killed. The
settings digest is the stage's recipe table (and the digests of the stages before it): a done
stage whose settings changed is refused, never silently reused or replaced.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..io.files import atomic_write_text

NAME = "forge.json"
FORMAT = "toonforge-forge-1"


def settings_digest(value: Any) -> str:
    """A short digest of a JSON-able value (paths as text), stable across runs."""
    text = json.dumps(value, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


class Manifest:
    """The stage states of one work folder."""

    def __init__(self, work: Path, data: dict[str, Any]):
        self.work = work
        self.data = data

    @classmethod
    def open(cls, work: Path, recipe: Path) -> Manifest:
        """The manifest of ``work``: a new folder (or an empty one) gets a fresh one; any other
        folder without ``forge.json`` is refused, so the line never writes among a user's files."""
        path = work / NAME
        if path.is_file():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise InputError(f"{path} is unreadable ({exc}); move it away to start again") from None
            if not isinstance(data, dict) or data.get("format") != FORMAT:
                raise InputError(f"{path} is not a toonforge forge manifest")
            return cls(work, data)
        if work.exists() and (not work.is_dir() or any(work.iterdir())):
            raise InputError(f"{work} exists and is not a forge work folder (no {NAME}): give a new or empty -o")
        work.mkdir(parents=True, exist_ok=True)
        manifest = cls(work, {"format": FORMAT, "recipe": str(recipe), "stages": {}})
        manifest.save()
        return manifest

    def save(self) -> None:
        atomic_write_text(self.work / NAME, json.dumps(self.data, indent=1, sort_keys=True) + "\n")

    def state(self, stage: str) -> dict[str, Any]:
        return self.data["stages"].get(stage, {})

    def is_done(self, stage: str, settings: str) -> bool:
        """True when ``stage`` finished and its outputs are all there. A stage that finished with
        other settings is refused: its outputs are kept, and the line does not mix two recipes."""
        rec = self.state(stage)
        if rec.get("state") != "done":
            return False
        if rec.get("settings") != settings:
            raise InputError(f"stage {stage} in {self.work} was made with other settings (the recipe or a "
                             f"stage before it changed): give a new -o folder to run the changed recipe")
        return all((self.work / rel).exists() for rel in rec.get("outputs", []))

    def mark_running(self, stage: str, settings: str, later: list[str] = ()) -> None:
        """Record ``stage`` as started; the records of the ``later`` stages, which read its
        outputs, are dropped in the same write, so they are redone after it."""
        self.data["stages"][stage] = {"state": "running", "settings": settings}
        for other in later:
            self.data["stages"].pop(other, None)
        self.save()

    def mark_done(self, stage: str, settings: str, outputs: list[Path]) -> None:
        rel = [str(Path(p).relative_to(self.work)) for p in outputs]
        self.data["stages"][stage] = {"state": "done", "settings": settings, "outputs": rel}
        self.save()
