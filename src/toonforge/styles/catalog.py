"""A one-row description of every style the registry finds (``toonforge styles``, ``GET /v1/styles``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import ToonforgeError
from .registry import available_styles
from .style import Style, first_sentence

__all__ = ["StyleRow", "catalog"]


@dataclass
class StyleRow:
    """name; kind ("network", "filter", "multi" for a style listed inside a multi-style model, or
    "broken"); head resolution ("any" for a filter); tier (the translator tier, or the model name);
    the card's first sentence; the folder."""

    name: str
    kind: str
    resolution: str
    tier: str
    summary: str
    path: Path

    def to_dict(self) -> dict[str, str]:
        d = asdict(self)
        d["path"] = str(self.path)
        return d


def catalog() -> list[StyleRow]:
    """Rows for the styles under the search roots, by name; a style that fails to load is a "broken" row."""
    rows = []
    names = available_styles()
    for name, path in names.items():
        try:
            s = Style.load(path)
        except (ToonforgeError, OSError, ValueError, TypeError, AttributeError) as exc:  # list the others
            rows.append(StyleRow(name, "broken", "-", "-", f"(broken: {exc})".replace("\n", " "), path))
            continue
        if s.config.kind == "filter":
            res, tier = "any", "filter"
        else:
            spec = s.spec("head")
            res, tier = str(spec.resolution), str(spec.config.get("tier", spec.model))
        rows.append(StyleRow(name, s.config.kind, res, tier, s.summary(), path))
        for entry in s.config.styles or []:  # usable by its own name where no folder has it
            if entry.name not in names:
                about = f"in {name}: {entry.description}" if entry.description else f"a style of {name}"
                rows.append(StyleRow(entry.name, "multi", res, tier, first_sentence(about), path))
    return sorted(rows, key=lambda r: r.name)
