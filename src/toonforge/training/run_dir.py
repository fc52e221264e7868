"""Run folders (NVlabs style) and what is written into them.

``runs_root/00000-<task>/`` holds ``config.json`` (the resolved configuration and a history of
resumes), ``stats.jsonl`` (one JSON object per log window), TensorBoard event files and
``checkpoints/latest.pt``. Only rank 0 calls the writers in this module.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..io.files import atomic_write_text

__all__ = [
    "StatsWindow",
    "StatsWriter",
    "create_run_dir",
    "folder_name",
    "now_iso",
    "open_run_dir",
    "trim_stats",
    "write_json_atomic",
]

_RUN_RE = re.compile(r"^(\d+)-")
_tb_warned = False


def now_iso() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def folder_name(name: str) -> str:
    """``name`` reduced to characters that are safe in a folder name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "task"


def create_run_dir(root: Path, name: str) -> Path:
    """Create ``root/<NNNNN>-<name>`` with the next number after the highest one present."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    for _ in range(100):  # another process may grab a number between listing and mkdir
        taken = [int(m.group(1)) for p in root.iterdir() if (m := _RUN_RE.match(p.name))]
        path = root / f"{max(taken, default=-1) + 1:05d}-{folder_name(name)}"
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise OSError(f"could not create a new run folder under {root}")


def open_run_dir(
    root: Path, name: str, conf: dict[str, Any], *, resume_dir: Path | None, start: int | None
) -> Path:
    """Create (or, on resume, reuse) the run folder and write ``config.json`` into it.

    ``start`` is the checkpoint step when resuming (None for a fresh run). Resuming in the same
    folder keeps the original ``started`` time, appends to ``resumes`` and drops stats lines
    past ``start``; resuming from a loose checkpoint opens a new folder noting ``resumed_from``.
    """
    if resume_dir is not None and start is not None:
        run_dir = Path(resume_dir)
        old = run_dir / "config.json"
        try:
            prev = json.loads(old.read_text(encoding="utf-8")) if old.is_file() else {}
        except ValueError:
            prev = {}
        if isinstance(prev, dict):
            conf["started"] = prev.get("started", conf.get("started"))
            conf["resumes"] = list(prev.get("resumes", []))
        entry = {"step": start, "time": now_iso(), "world_size": conf.get("world_size")}
        conf.setdefault("resumes", []).append(entry)
        trim_stats(run_dir / "stats.jsonl", start)
    else:
        run_dir = create_run_dir(root, name)
        if start is not None:
            conf["resumed_from"] = {"step": start, "time": now_iso()}
    (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
    write_json_atomic(conf, run_dir / "config.json")
    return run_dir


def drop_unsaved_run(run_dir: Path) -> bool:
    """Remove a run folder this process created when its run failed before any checkpoint was
    written (it holds only config.json and logs: nothing to resume), so failed runs leave no
    numbered folders behind. Returns True when it was removed."""
    ckpts = run_dir / "checkpoints"
    if not run_dir.is_dir() or (ckpts.is_dir() and any(ckpts.iterdir())):
        return False
    if any(p.suffix in (".pt", ".safetensors") for p in run_dir.iterdir()):
        return False
    shutil.rmtree(run_dir, ignore_errors=True)
    return True


def write_json_atomic(obj: Any, path: Path) -> None:
    """Write ``obj`` as indented JSON through a temporary file and a rename."""
    atomic_write_text(path, json.dumps(obj, indent=2, default=str) + "\n")


def trim_stats(path: Path, step: int) -> None:
    """Drop ``stats.jsonl`` lines logged after ``step`` (by a run killed past its checkpoint)."""
    if not path.is_file():
        return
    keep = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            if int(json.loads(line)["step"]) <= step:
                keep.append(line)
        except (ValueError, KeyError, TypeError):
            continue
    atomic_write_text(path, "".join(s + "\n" for s in keep))


class StatsWindow:
    """Running sums and counts of scalars over one log window."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.counts: dict[str, int] = {}

    def add(self, stats: dict[str, float]) -> None:
        for k, v in stats.items():
            self.sums[k] = self.sums.get(k, 0.0) + float(v)
            self.counts[k] = self.counts.get(k, 0) + 1

    def reset(self) -> None:
        self.sums, self.counts = {}, {}

    @staticmethod
    def merge(parts: list[tuple[dict[str, float], dict[str, int]]]) -> dict[str, float]:
        """Average (sums, counts) pairs, e.g. one per rank, key by key."""
        sums: dict[str, float] = {}
        counts: dict[str, int] = {}
        for s, c in parts:
            for k, v in s.items():
                sums[k] = sums.get(k, 0.0) + v
                counts[k] = counts.get(k, 0) + c[k]
        return {k: sums[k] / counts[k] for k in sorted(sums)}


class StatsWriter:
    """Appends log windows to ``stats.jsonl`` and, when available, TensorBoard."""

    def __init__(self, run_dir: Path, *, tensorboard: bool, start_step: int | None) -> None:
        self.path = Path(run_dir) / "stats.jsonl"
        self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 (closed in close())
        self._tb = _summary_writer(run_dir, start_step) if tensorboard else None

    def write(self, step: int, elapsed: float, scalars: dict[str, float]) -> None:
        """One line: ``{"step", "time" (training seconds), "timestamp", **scalars}``."""
        line: dict[str, Any] = {"step": step, "time": round(elapsed, 3), "timestamp": time.time()}
        for k, v in scalars.items():
            if k not in line:
                line[k] = v if math.isfinite(v) else None
        self._file.write(json.dumps(line) + "\n")
        self._file.flush()
        if self._tb is not None:
            for k, v in scalars.items():
                self._tb.add_scalar(k, v, step)

    def close(self) -> None:
        self._file.close()
        if self._tb is not None:
            self._tb.close()
            self._tb = None


def _summary_writer(run_dir: Path, start_step: int | None) -> Any:
    """A TensorBoard ``SummaryWriter`` in ``run_dir``, or None (warning once) without tensorboard.

    On resume, ``purge_step`` hides events that a killed run logged after its checkpoint.
    """
    global _tb_warned
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        if not _tb_warned:
            warnings.warn("tensorboard is not installed: logging to stats.jsonl only", stacklevel=3)
            _tb_warned = True
        return None
    return SummaryWriter(log_dir=str(run_dir), purge_step=start_step)
