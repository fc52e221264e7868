"""One-line messages the commands print when they finish."""

from __future__ import annotations

from pathlib import Path

__all__ = ["summary_line"]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def summary_line(images: int, faces: int, output: Path) -> str:
    """``wrote N images (M faces) to OUT``."""
    return f"wrote {_plural(images, 'image')} ({_plural(faces, 'face')}) to {output}"
