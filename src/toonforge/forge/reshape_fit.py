"""Choosing a style's face reshape by FD-MNv2 on data the held-out evaluation never sees.

Each candidate is ``"NAME FLAGS..."`` for ``toonforge reshape`` (``"none --none"`` first: the
start). Every candidate becomes a reshaped copy of the style, one ``toonforge eval`` measures them
all on the student's validation photos against training references (:func:`splits.fit_inputs`),
and the lowest FD among the candidates that keep identity within ``max_identity_drop`` of the
first one wins.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..io.files import atomic_write_text
from .commands import run_command
from .splits import fit_inputs


def choose_reshape(rows: Sequence[dict[str, Any]], max_identity_drop: float = 0.01) -> dict[str, Any]:
    """The row (``name``, ``fd``, ``identity``) with the lowest FD among those whose identity is at
    least the first row's less ``max_identity_drop``."""
    if not rows:
        raise InputError("the reshape fit's report has no rows")
    keep = [r for r in rows if r["identity"] >= rows[0]["identity"] - max_identity_drop]
    return min(keep, key=lambda r: r["fd"])


def parse_candidates(candidates: Sequence[str]) -> list[tuple[str, list[str]]]:
    """``"eyes1.3 --eyes 1.3"`` -> ``("eyes1.3", ["--eyes", "1.3"])``; names must be distinct."""
    parsed = []
    for cand in candidates:
        words = cand.split()
        if len(words) < 2 or "/" in words[0]:
            raise InputError(f"reshape candidate {cand!r}: give a name, then the reshape flags")
        parsed.append((words[0], words[1:]))
    if len({n for n, _ in parsed}) != len(parsed):
        raise InputError("reshape candidates need distinct names")
    return parsed


def fit_reshape(style: Path, fit: Path, pairs: Path, raw_photos: Path, refs: Path, candidates: Sequence[str], *,
                val_fraction: float, seed: int, run: Callable[[list[str]], None] = run_command) -> str:
    """Fit a reshape for ``style`` into the folder ``fit`` and return the chosen candidate line
    (also written to ``fit/chosen``). ``pairs``: the student's pair photos (their validation split,
    ``val_fraction`` and ``seed`` as the student took it, picks the photos from ``raw_photos``);
    ``refs``: training references (every 5th is used). Reshaped copies already in ``fit`` are
    reused, and so is the evaluation when the candidate list is the same as its own."""
    parsed = parse_candidates(candidates)
    n_photos, n_refs = fit_inputs(pairs, raw_photos, refs, fit, val_fraction=val_fraction, seed=seed)
    print(f"{fit / 'val-photos'}: {n_photos} images\n{fit / 'fit-refs'}: {n_refs} images")
    for name, flags in parsed:
        if not (fit / name / "config.json").is_file():
            run(["reshape", str(style), "--out", str(fit / name), *flags])
    listing = "".join(f"{c}\n" for c in candidates)
    atomic_write_text(fit / "candidates", listing)
    done = fit / "eval" / "candidates"
    if not done.is_file() or done.read_text(encoding="utf-8") != listing:
        run(["eval", "--style", *(str(fit / n) for n, _ in parsed), "--photos", str(fit / "val-photos"),
             "--refs", str(fit / "fit-refs"), "--out", str(fit / "eval"), "--backend", "onnx", "--threads", "2",
             "--speed-photos", "0", "--no-outputs", "--no-baseline", "--quiet", "--overwrite",
             "--title", "reshape fit: validation photos vs training references"])
        atomic_write_text(done, listing)
    rows = json.loads((fit / "eval" / "report.json").read_text(encoding="utf-8"))["rows"]
    best = choose_reshape(rows)
    print(f"reshape fit: {best['name']} (FD {best['fd']:.2f}, identity {best['identity']:.3f}) against "
          f"{rows[0]['name']} (FD {rows[0]['fd']:.2f}, identity {rows[0]['identity']:.3f})")
    chosen = next(c for c, (n, _) in zip(candidates, parsed) if n == best["name"])
    line = " ".join(chosen.split())
    atomic_write_text(fit / "chosen", line + "\n")
    return line
