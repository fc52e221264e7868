"""Find styles by name: built-in ones, user folders, or a direct path.

Search order for a name: ``$TOONFORGE_STYLES`` (folders separated by ``os.pathsep``), then
``~/.toonforge/styles``, then the styles shipped inside the package. A value containing a path
separator, or naming an existing folder, is loaded as a path.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import InputError
from .style import Style

BUILTIN_DIR = Path(__file__).parent / "builtin"


def style_roots() -> list[Path]:
    """Folders searched for styles, highest priority first."""
    roots = [Path(p) for p in os.environ.get("TOONFORGE_STYLES", "").split(os.pathsep) if p]
    roots.append(Path.home() / ".toonforge" / "styles")
    roots.append(BUILTIN_DIR)
    return roots


def available_styles() -> dict[str, Path]:
    """Style name -> folder, for every folder with a config.json under the search roots."""
    found: dict[str, Path] = {}
    for root in reversed(style_roots()):  # later (higher-priority) roots win
        if root.is_dir():
            for d in sorted(root.iterdir()):
                if (d / "config.json").is_file():
                    found[d.name] = d
    return dict(sorted(found.items()))


def load_style(name_or_path: str | Path) -> Style:
    """Load a style by registry name or folder path; InputError if it cannot be found."""
    text = str(name_or_path)
    p = Path(text)
    if os.sep in text or (os.altsep and os.altsep in text) or p.is_dir():
        return Style.load(p)
    styles = available_styles()
    if text not in styles:
        raise InputError(f"unknown style {text!r}; available: {', '.join(styles) or 'none'}")
    return Style.load(styles[text])
