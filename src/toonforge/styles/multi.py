"""Multi-style models: the ``styles`` list of a style folder's config, and mixes of them.

A multi-style folder is a network style whose head is a ``translator-multi`` (one network, S
styles in its normalisation tables). Its ``config.json`` adds::

    "styles": [
      {"name": "anime", "description": "...", "keep_colours": 0.2, "keep_colours_lift": 6.0,
       "keep_colours_chroma": 1.0, "reshape": {"eyes": 2.0, ...}, "reshape_file": "reshape-anime.onnx",
       "clean_skin": null, "extra": {}},
      {"name": "cartoon", ...}
    ]

in the order of the network's ``styles`` (each entry's keys are a single style's own settings,
:func:`~.post.post_settings`). A *mix* is ``{name: weight}``: non-negative weights, not all zero,
normalised here to sum 1. The network gets the mix as an (S,) vector; the post-processing settings
are blended by the same weights (:func:`blend_settings`); the config's top-level post-processing
keys are not used for a multi-style model. Nothing here imports PyTorch.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..face.reshape import ReshapeSpec
from ..face.skin import CLEAN_SKIN_WIDTHS
from .post import PostSettings, post_settings

__all__ = ["MULTI_MODEL", "PostSettings", "StyleEntry", "blend_settings", "check_mix", "mix_vector",
           "parse_entries", "parse_mix", "settings_from_style"]

MULTI_MODEL = "translator-multi"


@dataclass
class StyleEntry:
    """One style of a multi-style model and its own post-processing settings ``post``.

    ``reshape_file``: the style's reshape graph in the folder (``reshape-<name>.onnx``), if any;
    ``reshape_source``: a file to copy there when writing (not saved in the config).
    """

    name: str
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    post: PostSettings = field(default_factory=PostSettings)
    reshape_file: str | None = None
    reshape_source: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "extra": dict(self.extra),
                **self.post.to_dict(), "reshape_file": self.reshape_file}

    @classmethod
    def from_dict(cls, d: Any, where: str) -> StyleEntry:
        if not isinstance(d, dict) or not isinstance(d.get("name"), str) or not d["name"]:
            raise InputError(f"bad style config {where}: each entry of 'styles' needs a 'name'")
        if not isinstance(d.get("extra", {}), dict):
            raise InputError(f"bad style config {where}: extra of style {d['name']!r} must be an object")
        file = d.get("reshape_file")
        if file is not None and (not isinstance(file, str) or Path(file).name != file):
            raise InputError(f"bad style config {where}: reshape_file of {d['name']!r} must be a plain file name")
        post = PostSettings(**post_settings(d, f"{where} (style {d['name']!r})"))
        return cls(name=d["name"], description=str(d.get("description", "")), extra=dict(d.get("extra", {})),
                   post=post, reshape_file=file)


def parse_entries(raw: Any, head: Any, where: str) -> list[StyleEntry]:
    """The ``styles`` list of a config: entries whose names are the head network's ``styles``, in order."""
    if not isinstance(raw, list) or len(raw) < 2:
        raise InputError(f"bad style config {where}: 'styles' must list two or more styles")
    entries = [StyleEntry.from_dict(d, where) for d in raw]
    names = [e.name for e in entries]
    if len(set(names)) != len(names):
        raise InputError(f"bad style config {where}: style names repeat in 'styles': {', '.join(names)}")
    if head is None or head.model != MULTI_MODEL or list(head.config.get("styles", [])) != names:
        raise InputError(f"bad style config {where}: 'styles' ({', '.join(names)}) needs a {MULTI_MODEL} head "
                         "with the same styles in the same order")
    return entries


def parse_mix(text: str) -> dict[str, float]:
    """``"anime=0.7,cartoon=0.3"`` -> {"anime": 0.7, "cartoon": 0.3} (not yet checked or normalised)."""
    mix: dict[str, float] = {}
    for part in str(text).split(","):
        name, eq, value = part.strip().partition("=")
        name, value = name.strip(), value.strip()
        if not eq or not name or not value:
            raise InputError(f"bad mix {text!r}: write NAME=WEIGHT pairs separated by commas, "
                             "e.g. anime=0.7,cartoon=0.3")
        try:
            weight = float(value)
        except ValueError:
            raise InputError(f"bad mix {text!r}: weight {value!r} of {name!r} is not a number") from None
        if name in mix:
            raise InputError(f"bad mix {text!r}: {name!r} is named twice")
        mix[name] = weight
    return mix


def check_mix(mix: dict[str, float], names: list[str], model: str = "the model") -> dict[str, float]:
    """``mix`` checked against the model's style ``names`` and normalised to sum 1, in model order
    (every style present, 0 for those not named). One-line InputError otherwise."""
    unknown = [n for n in mix if n not in names]
    if unknown:
        raise InputError(f"unknown style {unknown[0]!r} in the mix; {model} has: {', '.join(names)}")
    bad = [f"{n}={w}" for n, w in mix.items() if not (math.isfinite(w) and w >= 0)]
    if bad:
        raise InputError(f"mix weights must be finite and non-negative, got {', '.join(bad)}")
    total = sum(mix.values())
    if total <= 0:
        raise InputError("mix weights are all zero; give at least one style a positive weight")
    return {n: float(mix.get(n, 0.0)) / total for n in names}


def mix_vector(mix: dict[str, float], names: list[str]) -> np.ndarray:
    """A checked mix as the network's (S,) float32 style weights, in ``names`` order."""
    return np.array([mix.get(n, 0.0) for n in names], dtype=np.float32)


def blend_settings(entries: list[StyleEntry], mix: dict[str, float]) -> PostSettings:
    """The entries' settings blended by a checked ``mix`` (weights summing to 1).

    Numbers are blended linearly (a style without ink-stroke cleanup counts as width 0; a blended
    width under the smallest one is no cleanup, else the nearest odd width). Reshapes of the
    styles with weight > 0 are combined, each at its weight's share of its strength
    (:meth:`ReshapeSpec.scaled`): magnifications multiply (``eyes ** w``), squeezes add
    (``jaw * w``), the eye lens radius is their weighted mean. A one-hot mix gives exactly that
    style's settings.
    """
    parts = [(mix[e.name], e.post) for e in entries if mix.get(e.name, 0.0) > 0]
    lin = lambda attr: float(sum(wi * getattr(p, attr) for wi, p in parts))  # noqa: E731
    lo, hi = CLEAN_SKIN_WIDTHS
    width = sum(wi * (p.clean_skin or 0) for wi, p in parts)
    clean = None if width < lo else min(hi, max(lo, int(round((width - 1) / 2)) * 2 + 1))
    return PostSettings(_blend_reshapes([(wi, p.reshape) for wi, p in parts if p.reshape]), clean,
                        lin("keep_colours"), lin("keep_colours_lift"), lin("keep_colours_chroma"))


def _blend_reshapes(parts: list[tuple[float, ReshapeSpec]]) -> ReshapeSpec | None:
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0][1].scaled(parts[0][0])
    scaled = [(w, spec.scaled(w)) for w, spec in parts]
    prod = lambda attr: math.prod(getattr(s, attr) for _, s in scaled)  # noqa: E731
    total = sum(w for w, _ in parts)
    return ReshapeSpec(eyes=prod("eyes"), eye_radius=sum(w * s.eye_radius for w, s in parts) / total,
                       eye_height=prod("eye_height"), nose=prod("nose"), mouth=prod("mouth"),
                       jaw=sum(s.jaw for _, s in scaled), chin=sum(s.chin for _, s in scaled))


def settings_from_style(style: Any) -> StyleEntry:
    """A loaded single style's own settings (e.g. a shipped one's) as an entry of a multi-style model,
    its ``reshape.onnx`` to be copied as ``reshape-<name>.onnx``."""
    cfg = style.config
    if cfg.styles is not None:
        raise InputError(f"{style.path} is a multi-style model; name one of its styles' own folders instead")
    src = style.path / "reshape.onnx" if style.path is not None else None
    has_file = cfg.reshape is not None and src is not None and src.is_file()
    return StyleEntry(name=cfg.name, description=cfg.description, extra=json.loads(json.dumps(cfg.extra)),
                      post=PostSettings.of(cfg), reshape_source=src if has_file else None,
                      reshape_file=f"reshape-{cfg.name}.onnx" if cfg.reshape is not None else None)


def style_mix(style: Any, mix: dict[str, float] | str | None) -> tuple[dict[str, float] | None, PostSettings]:
    """The checked mix a loaded style runs with, and the post-processing settings that go with it.

    A multi-style model takes ``mix`` (a dict or ``"a=0.7,b=0.3"`` text); without one it runs the
    style it was loaded by name as (``style.default_mix``), else its first style. A single-style
    model takes no mix (InputError) and gets its config's settings, with mix None.
    """
    cfg = style.config
    if cfg.styles is None:
        if mix is not None:
            raise InputError(f"style {style.name!r} is a single-style model; a mix needs a multi-style model "
                             "(see `toonforge styles`)")
        return None, PostSettings.of(cfg)
    names = [e.name for e in cfg.styles]
    if mix is None:
        mix = style.default_mix or {names[0]: 1.0}
    elif isinstance(mix, str):
        mix = parse_mix(mix)
    checked = check_mix(dict(mix), names, f"style {style.name!r}")
    return checked, blend_settings(cfg.styles, checked)
