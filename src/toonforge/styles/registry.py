"""Find styles by name: built-in ones, user folders, or a direct path.

Search order for a name: ``$TOONFORGE_STYLES`` (folders separated by ``os.pathsep``), then
``~/.toonforge/styles``, then the styles shipped inside the package. A value containing a path
separator, or naming an existing folder, is loaded as a path. A style listed inside a multi-style
folder (:mod:`.multi`) is found by its own name too, when no folder has that name: it loads the
multi-style folder set to that style alone. ``MODEL@NAME`` (or ``MODEL@a=0.7,b=0.3``) names a
multi-style model by name or folder and the style (or mix) it runs by default: what ``toonforge
eval --style multi@anime`` needs where a single-style folder ``anime`` exists too.
"""

from __future__ import annotations

import json
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


def listed_styles(folders: dict[str, Path] | None = None) -> dict[str, Path]:
    """Style name -> multi-style folder, for the styles multi-style folders list that no folder is
    named after (the first folder by name wins). Unreadable configs are skipped (``toonforge
    styles`` shows them as broken)."""
    folders = available_styles() if folders is None else folders
    found: dict[str, Path] = {}
    for path in folders.values():
        try:
            raw = json.loads((path / "config.json").read_text(encoding="utf-8"))
            names = [e["name"] for e in raw.get("styles") or []]
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            continue
        for name in names:
            if isinstance(name, str) and name not in folders:
                found.setdefault(name, path)
    return dict(sorted(found.items()))


def load_style(name_or_path: str | Path) -> Style:
    """Load a style by registry name or folder path (or ``MODEL@STYLE``); InputError if it cannot be found."""
    text = str(name_or_path)
    p = Path(text)
    if "@" in text and not p.is_dir():
        return _with_default_mix(*text.rsplit("@", 1))
    if os.sep in text or (os.altsep and os.altsep in text) or p.is_dir():
        return Style.load(p)
    styles = available_styles()
    if text not in styles:
        listed = listed_styles(styles)
        if text in listed:
            style = Style.load(listed[text])
            if text in [e.name for e in style.config.styles or []]:
                style.default_mix = {text: 1.0}
                return style
        raise InputError(f"unknown style {text!r}; available: {', '.join([*styles, *listed]) or 'none'}")
    return Style.load(styles[text])



def _with_default_mix(model: str, selector: str) -> Style:
    """A multi-style model (``model``: name or folder) whose default mix is ``selector``."""
    from .multi import check_mix, parse_mix

    style = load_style(model)
    if style.config.styles is None:
        raise InputError(f"{model}@{selector}: style {style.name!r} is a single-style model; @ picks a style "
                         "of a multi-style model")
    mix = parse_mix(selector) if "=" in selector else {selector: 1.0}
    style.default_mix = check_mix(mix, [e.name for e in style.config.styles], f"style {style.name!r}")
    return style
