"""Append-only JSON-lines manifests that survive a killed writer.

A resumable job records each finished item as one JSON line. A run killed mid-write can leave a
torn last line: readers skip lines that do not decode, and the next append starts on a fresh line,
so a torn line never swallows a good record.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["append_jsonl", "read_jsonl"]


def read_jsonl(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The JSON objects of ``path`` in order; a missing file is empty, torn or non-object lines are skipped."""
    p = Path(path)
    if not p.is_file():
        return []
    records = []
    for line in p.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict):
            records.append(rec)
    return records


def append_jsonl(path: str | os.PathLike[str], records: Sequence[dict[str, Any]]) -> None:
    """Append ``records`` as whole lines in one write (after a newline if the file ends in a torn
    line), then fsync, so a reader sees each record complete or not at all."""
    if not records:
        return
    data = "".join(json.dumps(r, sort_keys=True) + "\n" for r in records).encode("utf-8")
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o666)  # the umask applies
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            data = b"\n" + data
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
