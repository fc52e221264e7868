"""Does a style keep skin tones apart? Summaries of photo vs output skin over many faces.

Each face gives a pair of :class:`~toonforge.face.skin_tone.SkinTone` (the photo's cheek and
forehead skin, and the output's at the same landmarks). Over a set of faces:

- the mean skin L* and hue of the photos and of the outputs (the eval table's skin column);
- the **slope** of output L* on photo L* (least squares): 1 keeps every difference between
  faces, 0 paints every face the same; a style may lighten or darken all faces (the shift) and
  still keep them apart (the slope);
- per tone group of the photos (light L* >= 65, medium 50-65, dark < 50): the count, the mean
  photo and output L* and the mean **shift** (output - photo); the **spread** is the largest
  minus the smallest group shift over groups with at least ``MIN_GROUP`` faces: a style that
  whitens dark faces more than light ones has a large spread.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..face.skin_tone import TONE_GROUPS, SkinTone, tone_group

__all__ = ["MIN_GROUP", "dimmed", "mottle_table_markdown", "skin_cell", "skin_summary", "skin_table_markdown"]

MIN_GROUP = 3  # faces a tone group needs to count in the spread


def dimmed(rgb: np.ndarray, factor: float) -> np.ndarray:
    """A photo with its exposure scaled by ``factor`` in linear light (sRGB decoded, scaled,
    encoded): (H, W, 3) uint8 -> same. The test sets use it to build dimmer and darker-skinned
    inputs from the mostly light-skinned photos; it models a dim exposure exactly and darker
    skin only roughly (real skin of another tone differs in hue and reflectance too)."""
    x = rgb.astype(np.float32) / 255.0
    lin = np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4) * factor
    out = np.where(lin <= 0.0031308, lin * 12.92, 1.055 * np.power(np.maximum(lin, 0), 1 / 2.4) - 0.055)
    return np.clip(out * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _circular_mean(degrees: Sequence[float]) -> float:
    r = np.radians(np.asarray(degrees, np.float64))
    return float(np.degrees(np.arctan2(np.sin(r).mean(), np.cos(r).mean())))


def skin_summary(pairs: Sequence[tuple[SkinTone, SkinTone]]) -> dict | None:
    """Summary of (photo, output) skin pairs as a JSON-ready dict, or None without pairs.

    Keys: ``faces``, ``photo_l``, ``out_l``, ``photo_hue``, ``out_hue`` (degrees, circular
    means), ``slope`` (None with fewer than 3 faces or one photo L*), ``groups`` (name ->
    ``{"faces", "photo_l", "out_l", "shift", "photo_iqr", "out_iqr"}`` for the groups present; the
    last two are the mean interquartile ranges of skin L*, :attr:`SkinTone.l_iqr`) and ``spread`` (None
    with fewer than two groups of ``MIN_GROUP`` faces).
    """
    if not pairs:
        return None
    x = np.array([p.L for p, _ in pairs])
    y = np.array([o.L for _, o in pairs])
    slope = float(np.polyfit(x, y, 1)[0]) if len(x) >= 3 and np.ptp(x) > 1e-6 else None
    groups = {}
    for name, _ in TONE_GROUPS:
        idx = [i for i, (p, _) in enumerate(pairs) if tone_group(p.L) == name]
        if idx:
            groups[name] = {"faces": len(idx), "photo_l": float(x[idx].mean()), "out_l": float(y[idx].mean()),
                            "shift": float((y[idx] - x[idx]).mean()),
                            "photo_iqr": float(np.mean([pairs[i][0].l_iqr for i in idx])),
                            "out_iqr": float(np.mean([pairs[i][1].l_iqr for i in idx]))}
    shifts = [g["shift"] for g in groups.values() if g["faces"] >= MIN_GROUP]
    return {
        "faces": len(pairs), "photo_l": float(x.mean()), "out_l": float(y.mean()),
        "photo_hue": _circular_mean([p.hue for p, _ in pairs]), "out_hue": _circular_mean([o.hue for _, o in pairs]),
        "slope": slope, "groups": groups, "spread": float(max(shifts) - min(shifts)) if len(shifts) >= 2 else None,
    }


def skin_cell(summary: dict | None) -> str:
    """The eval table's skin column: ``L* photo→output / hue photo→output``."""
    if not summary:
        return "—"
    return (f"{summary['photo_l']:.0f}→{summary['out_l']:.0f} / "
            f"{summary['photo_hue']:.0f}°→{summary['out_hue']:.0f}°")


def skin_table_markdown(rows: Sequence[tuple[str, dict | None]]) -> str:
    """A per-tone table: one line per (label, :func:`skin_summary`) with slope, shifts and spread."""
    names = [n for n, _ in TONE_GROUPS]
    head = ("| style | faces | slope ↑ | " + " | ".join(f"{n}: photo→out L* (shift, n)" for n in names)
            + " | spread ↓ |")
    lines = [head, "|" + "---|" * (4 + len(names))]
    for label, s in rows:
        if not s:
            lines.append(f"| {label} | 0 | — | " + " | ".join("—" for _ in names) + " | — |")
            continue
        cells = []
        for n in names:
            g = s["groups"].get(n)
            cells.append("—" if g is None else
                         f"{g['photo_l']:.1f}→{g['out_l']:.1f} ({g['shift']:+.1f}, {g['faces']})")
        slope = "—" if s["slope"] is None else f"{s['slope']:.2f}"
        spread = "—" if s["spread"] is None else f"{s['spread']:.1f}"
        lines.append(f"| {label} | {s['faces']} | {slope} | " + " | ".join(cells) + f" | {spread} |")
    return "\n".join(lines)


def mottle_table_markdown(rows: Sequence[tuple[str, dict | None]]) -> str:
    """Skin evenness per tone group: mean interquartile range of skin L* in the photo and the output
    (higher output values than the photo's: blotches or strokes the style added), one line per row."""
    names = [n for n, _ in TONE_GROUPS]
    lines = ["| style | " + " | ".join(f"{n}: photo→out L* IQR" for n in names) + " |",
             "|" + "---|" * (1 + len(names))]
    for label, s in rows:
        groups = (s or {}).get("groups", {})
        cells = ["—" if n not in groups else f"{groups[n]['photo_iqr']:.1f}→{groups[n]['out_iqr']:.1f}" for n in names]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
