"""The result of an evaluation run, and its Markdown and JSON renderings."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..io.files import atomic_write_text
from .skin_tones import skin_cell, skin_table_markdown


@dataclass
class StyleRow:
    """The metrics of one style over the evaluated photos (None: not measured / not defined).

    sharpness: mean absolute 3x3 Laplacian of the outputs at the evaluation size (0-255 scale).
    fd, kid_mean, kid_std: Fréchet distance and KID (x1) of the outputs to the references, on
        the feature extractor named by ``EvalReport.fd_label``.
    identity: mean cosine similarity of dlib face descriptors, input face vs the same region of
        the output; same_person_rate: share of faces with descriptor distance < 0.6.
    face_found_rate: share of input faces that the detector still finds in the output.
    content_distance: mean MobileNetV2 feature distance between input and output.
    images_per_second: 1 / median seconds of one full pipeline call (detection included), timed
        as ``EvalReport.speed_note`` says.
    backend: the engine that ran the style's networks ("torch" or "onnx"); None for the input
        baseline and for filter styles, which run no network.
    skin: the skin tones of the photos' faces and of the outputs (CIELAB L* and hue of cheek
        and forehead patches, per tone group, and the slope of output on photo L*), as
        :func:`toonforge.evaluation.skin_tones.skin_summary` returns it.
    """

    name: str
    kind: str = "style"  # "style" or "baseline"
    images: int = 0
    faces: int = 0
    sharpness: float | None = None
    fd: float | None = None
    kid_mean: float | None = None
    kid_std: float | None = None
    identity: float | None = None
    same_person_rate: float | None = None
    face_found_rate: float | None = None
    content_distance: float | None = None
    images_per_second: float | None = None
    backend: str | None = None
    skin: dict | None = None


@dataclass
class EvalReport:
    """Everything one ``toonforge eval`` run measured, plus how it was run."""

    title: str
    command: str
    photos: str
    refs: str | None
    eval_size: int
    backend: str
    fd_label: str
    rows: list[StyleRow] = field(default_factory=list)
    photo_count: int = 0
    ref_count: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    created: str = ""
    machine: str = ""
    speed_photos: int | None = None  # photos timed per style (interleaved); None: timed in the quality pass
    speed_warmup: int = 1  # untimed calls per style before them
    speed_rounds: int = 1  # turns of each style on the photos; the median turn counts

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["skipped"] = [{"path": p, "error": e} for p, e in self.skipped]
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> EvalReport:
        rows = [StyleRow(**r) for r in d.get("rows", [])]
        skipped = [(s["path"], s["error"]) for s in d.get("skipped", [])]
        rest = {k: v for k, v in d.items() if k not in ("rows", "skipped")}
        return cls(**rest, rows=rows, skipped=skipped)

    def speed_note(self) -> str:
        """How the images/s column was timed, in words."""
        if self.speed_photos is None:  # reports written before the timing pass
            return "median over the photos during the quality pass, after one warm-up call"
        if self.speed_photos == 0:
            return "not timed in this run (`--speed-photos 0`)"
        return (f"timed after the quality pass on {self.speed_photos} photos spread over the set: "
                f"{self.speed_warmup} untimed calls per style, then {self.speed_rounds} turns in which each "
                "style runs all of them back to back; the median turn counts")

    def row(self, name: str) -> StyleRow | None:
        return next((r for r in self.rows if r.name == name), None)

    # ---- rendering -----------------------------------------------------------------------
    def table_markdown(self, rows: list[StyleRow] | None = None) -> str:
        """The metric table alone (one line per row), as GitHub Markdown."""
        head = (f"| style | sharpness ↑ | {self.fd_label} ↓ | KID×10³ ↓ | identity ↑ | same person ↑ "
                "| face found ↑ | content dist. ↓ | images/s ↑ | skin L* / hue photo→out |")
        lines = [head, "|" + "---|" * 10]
        for r in rows if rows is not None else self.rows:
            kid = None if r.kid_mean is None else f"{r.kid_mean * 1e3:.1f} ± {(r.kid_std or 0) * 1e3:.1f}"
            cells = [
                r.name if r.kind == "style" else f"*{r.name}*",
                _fmt(r.sharpness, 2), _fmt(r.fd, 2), kid or "—", _fmt(r.identity, 3),
                _pct(r.same_person_rate), _pct(r.face_found_rate), _fmt(r.content_distance, 3),
                _fmt(r.images_per_second, 1), skin_cell(r.skin),
            ]
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def markdown(self) -> str:
        faces = max((r.faces for r in self.rows if r.kind == "style"), default=0)
        refs = f"{self.ref_count} references from `{self.refs}`" if self.refs else "no references (no FD/KID)"
        parts = [
            f"# {self.title}", "",
            f"{self.photo_count} photos from `{self.photos}` ({faces} with a face), {refs}; "
            f"outputs measured at long side {self.eval_size} px; backend `{self.backend}`; "
            f"{self.machine}; {self.created}.", "",
            f"Command: `{self.command}`", "",
            self.table_markdown(), "",
            "How each column is measured:", "",
            f"- **sharpness**: mean absolute 3×3 Laplacian of the grey output (0–255 scale) at "
            f"long side {self.eval_size} px.",
            f"- **{self.fd_label}** and **KID**: Fréchet distance and kernel inception distance "
            f"(cubic kernel, ×10³) between the outputs and the references, on "
            + ("ImageNet MobileNetV2 pooled features (not the Inception FID)."
               if self.fd_label == "FD-MNv2" else "FID Inception-v3 pool features.")
            + " Small sets give biased FD: compare rows of one table, not across tables.",
            "- **identity**: cosine similarity of dlib face descriptors of the input face and the "
            "same region of the output; **same person**: share with descriptor distance < 0.6 "
            "(dlib's threshold).",
            "- **face found**: share of input faces that dlib still detects in the output.",
            "- **content dist.**: MobileNetV2 feature distance between input and output (lower "
            "keeps more of the photo's content).",
            f"- **images/s**: one full pipeline call per image (detection, alignment, networks, "
            f"paste-back), {self.speed_note()}, on this machine.",
            "- **skin L\\* / hue**: median CIELAB of cheek and forehead patches placed by the landmarks, "
            "photo → output at the same places, averaged over the faces (`face.skin_tone`).",
        ]
        skin_rows = [(r.name, r.skin) for r in self.rows if r.kind == "style" and r.skin]
        if skin_rows:
            parts += ["", "## Skin tones", "",
                      "Faces grouped by the photo's own skin L\\* (light ≥ 65, medium 50–65, dark < 50); "
                      "shift = output − photo L\\*; slope = least-squares slope of output on photo L\\* "
                      "(1 keeps faces' tones apart, 0 paints all alike); spread = largest − smallest group "
                      "shift (groups of 3 faces or more).", "",
                      skin_table_markdown(skin_rows)]
        if self.skipped:
            parts += ["", f"Skipped {len(self.skipped)} unreadable file(s):", ""]
            parts += [f"- `{p}`: {e}" for p, e in self.skipped]
        return "\n".join(parts) + "\n"

    def write(self, out_dir: Path) -> tuple[Path, Path]:
        """Write ``report.md`` and ``report.json`` into ``out_dir``; returns their paths."""
        out_dir.mkdir(parents=True, exist_ok=True)
        md, js = out_dir / "report.md", out_dir / "report.json"
        atomic_write_text(md, self.markdown())
        atomic_write_text(js, json.dumps(self.to_json(), indent=2, allow_nan=True) + "\n")
        return md, js


def _fmt(v: float | None, digits: int) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    return f"{v:.{digits}f}"


def _pct(v: float | None) -> str:
    return "—" if v is None or math.isnan(v) else f"{100 * v:.0f}%"
