"""Where a trainer stands: its numbered run folders and the steps they have logged."""

from __future__ import annotations

from pathlib import Path

from ..io.jsonl import read_jsonl


def last_run(runs: Path, kind: str) -> Path | None:
    """The newest run folder of ``kind`` (``00012-dctnet``: the highest number) under ``runs``."""
    if not Path(runs).is_dir():
        return None
    found = sorted(p for p in Path(runs).glob(f"*-{kind}") if p.is_dir() and p.name.split("-", 1)[0].isdigit())
    return found[-1] if found else None


def logged_steps(run: Path) -> set[int]:
    """The steps ``run/stats.jsonl`` has a record of (a torn last line is ignored)."""
    stats = Path(run) / "stats.jsonl"
    return {int(r["step"]) for r in read_jsonl(stats) if isinstance(r.get("step"), (int, float))}


def reached(run: Path | None, step: int) -> bool:
    """True when ``run`` has written its generator and logged ``step`` (so training to ``step``
    has finished there)."""
    return run is not None and (Path(run) / "generator.safetensors").is_file() and step in logged_steps(run)
