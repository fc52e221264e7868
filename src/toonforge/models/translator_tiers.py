"""The translator's size tiers, kept free of torch so the CLI can list them without importing it."""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class TierSpec:
    """Widths at strides 2, 4, 8, 16; blocks per encoder stage (s4, s8, s16); expansion.

    ``full_res``: a full-resolution refine stage (width = the stride-2 width) follows the decoder.
    ``subpixel``: the head writes the output from half resolution, four RGB values per pixel
    rearranged into the full-resolution image (depth-to-space), so no layer runs at full size.
    """

    widths: tuple[int, int, int, int]
    blocks: tuple[int, int, int]
    expand: float
    full_res: bool = False
    subpixel: bool = False

    def __post_init__(self) -> None:
        if self.full_res and self.subpixel:
            raise ValueError("a tier has either a full-resolution stage or a sub-pixel head, not both")


TIERS: dict[str, TierSpec] = {
    "tiny": TierSpec(widths=(8, 16, 32, 64), blocks=(1, 1, 2), expand=2.0),
    "small": TierSpec(widths=(16, 24, 48, 96), blocks=(1, 2, 4), expand=3.0),
    "base": TierSpec(widths=(24, 40, 80, 160), blocks=(2, 3, 6), expand=4.0),
}
TIERS["small-hd"] = replace(TIERS["small"], full_res=True)
TIERS["small-subpixel"] = replace(TIERS["small"], subpixel=True)

FULL_RES_PREFIX = "full_"  # the state-dict keys of the full-resolution stage start with this
