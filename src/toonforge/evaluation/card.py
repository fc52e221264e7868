"""The metrics section of a style's ``card.md``, filled from an evaluation report.

The section sits between two HTML comments so it can be refreshed without touching the
hand-written parts of the card; a card without them gets the section appended.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from ..io.files import atomic_write_text
from .report import EvalReport

START = "<!-- toonforge:metrics:start -->"
END = "<!-- toonforge:metrics:end -->"


def metrics_section(report: EvalReport, style_row: str) -> str:
    """Markdown for the card: the style's row (and the unstyled baseline) with the command."""
    row = report.row(style_row)
    if row is None:
        raise InputError(f"the report has no row for style {style_row!r} (rows: "
                         f"{', '.join(r.name for r in report.rows)})")
    rows = [row] + [r for r in report.rows if r.kind == "baseline"]
    refs = f"{report.ref_count} style references from `{report.refs}`" if report.refs else "no style references"
    return "\n".join([
        START,
        "## Metrics",
        "",
        f"Measured on {report.created} on {report.machine}, over {report.photo_count} photos from "
        f"`{report.photos}` ({row.faces} faces) against {refs}, outputs at long side {report.eval_size} px, "
        f"backend `{report.backend}`:",
        "",
        report.table_markdown(rows),
        "",
        f"Command: `{report.command}`",
        "",
        "Columns as defined by `toonforge eval` (see its report.md). "
        + ("FD-MNv2 uses ImageNet MobileNetV2 features, not the Inception FID." if report.fd_label == "FD-MNv2"
           else ""),
        END,
    ]).rstrip() + "\n"


def fill_metrics(card: str, section: str) -> str:
    """Replace the marked metrics section of ``card`` by ``section`` (or append it)."""
    if START in card and END in card and card.index(START) < card.index(END):
        head, rest = card.split(START, 1)
        tail = rest.split(END, 1)[1]
        return head + section.rstrip("\n") + tail
    return card.rstrip("\n") + "\n\n" + section


def write_card_metrics(style_dir: Path, report: EvalReport, style_row: str) -> Path:
    """Fill ``style_dir/card.md``'s metrics section in place (atomically); returns its path."""
    card = style_dir / "card.md"
    text = card.read_text(encoding="utf-8") if card.is_file() else f"# {style_dir.name}\n"
    return atomic_write_text(card, fill_metrics(text, metrics_section(report, style_row)))
