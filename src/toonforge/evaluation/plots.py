"""Plots of a training run's ``stats.jsonl`` curves (losses, validation metrics) as PNG files."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path

from ..errors import InputError, MissingDependencyError


def read_stats(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """Read ``run_dir/stats.jsonl`` into ``{key: [(step, value), ...]}`` (finite values only).

    Lines that are not JSON objects with a ``step`` are skipped (a run killed mid-write leaves
    at most one such line).
    """
    path = run_dir / "stats.jsonl"
    if not path.is_file():
        raise InputError(f"{run_dir} has no stats.jsonl; pass a training run folder")
    series: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rec = json.loads(line)
            step = int(rec["step"])
        except (ValueError, KeyError, TypeError):
            continue
        for key, value in rec.items():
            if key in ("step", "time", "timestamp") or not isinstance(value, (int, float)):
                continue
            if math.isfinite(value):
                series[key].append((step, float(value)))
    if not series:
        raise InputError(f"{path} holds no curves yet")
    return dict(series)


def plot_run(run_dir: Path, out_png: Path) -> Path:
    """One figure per run: a panel per curve group (``loss/*``, ``val/*``, other prefixes).

    Returns the PNG path. Needs matplotlib (the ``eval`` extra); imported here only.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise MissingDependencyError('plots need matplotlib: pip install "toonforge[eval]"') from None
    series = read_stats(run_dir)
    groups: dict[str, list[str]] = defaultdict(list)
    for key in sorted(series):
        groups[key.split("/", 1)[0] if "/" in key else "other"].append(key)
    fig, axes = plt.subplots(1, len(groups), figsize=(5.5 * len(groups), 3.6), squeeze=False)
    for ax, (group, keys) in zip(axes[0], groups.items()):
        for key in keys:
            steps, values = zip(*series[key])
            ax.plot(steps, values, label=key.split("/", 1)[-1], marker="." if len(steps) < 30 else None)
        ax.set_title(group)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(run_dir.name)
    fig.tight_layout()
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=110)
    plt.close(fig)
    return out_png
