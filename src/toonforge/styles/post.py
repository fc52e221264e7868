"""A style's own post-processing settings, parsed from its config (a single style's ``config.json``,
or one entry of a multi-style model's ``styles``) and applied by the stylizer. No PyTorch."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from ..errors import InputError
from ..face.reshape import ReshapeSpec
from ..face.skin import check_clean_skin

__all__ = ["PostSettings", "post_settings"]


@dataclass(frozen=True)
class PostSettings:
    """A style's post-processing (see :class:`~..pipelines.stylizer.Stylizer`): the keys of
    :func:`~.post.post_settings`."""

    reshape: ReshapeSpec | None = None
    clean_skin: int | None = None
    keep_colours: float = 0.0
    keep_colours_lift: float = 0.0
    keep_colours_chroma: float = 1.0

    @classmethod
    def of(cls, config: Any) -> PostSettings:
        """The settings of anything carrying them as attributes (a :class:`~.style.StyleConfig`)."""
        return cls(**{f.name: getattr(config, f.name) for f in fields(cls)})

    def apply_to(self, target: Any) -> None:
        """Set these settings as attributes of ``target`` (a :class:`~.style.StyleConfig` or a
        :class:`~..pipelines.stylizer.Stylizer`), in place."""
        for f in fields(self):
            setattr(target, f.name, getattr(self, f.name))

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["reshape"] = self.reshape.to_dict() if self.reshape else None
        return d


def post_settings(d: dict[str, Any], source: str) -> dict[str, Any]:
    """A style's own post-processing settings from its config (a style's, or one entry of a
    multi-style config's ``styles``): reshape, clean_skin, keep_colours, keep_colours_lift and
    keep_colours_chroma, checked (one-line InputError)."""
    reshape = d.get("reshape")
    if reshape is not None:
        reshape = ReshapeSpec.from_dict(reshape, f"style config {source} (reshape)")
    clean_skin = d.get("clean_skin")
    if clean_skin is not None:
        clean_skin = check_clean_skin(clean_skin, f"style config {source} (clean_skin)")
    keep = d.get("keep_colours", 0.0)
    if isinstance(keep, bool) or not isinstance(keep, (int, float)) or not 0.0 <= keep <= 1.0:
        raise InputError(f"bad style config {source}: keep_colours must be a number in [0, 1], got {keep!r}")
    lift = d.get("keep_colours_lift", 0.0)
    if isinstance(lift, bool) or not isinstance(lift, (int, float)) or not -50.0 <= lift <= 50.0:
        raise InputError(f"bad style config {source}: keep_colours_lift must be a number in "
                         f"[-50, 50] (L*), got {lift!r}")
    chroma = d.get("keep_colours_chroma", 1.0)
    if isinstance(chroma, bool) or not isinstance(chroma, (int, float)) or not 0.0 <= chroma <= 1.0:
        raise InputError(f"bad style config {source}: keep_colours_chroma must be a number in [0, 1], "
                         f"got {chroma!r}")
    return {"reshape": reshape, "clean_skin": clean_skin, "keep_colours": float(keep),
            "keep_colours_lift": float(lift), "keep_colours_chroma": float(chroma)}
