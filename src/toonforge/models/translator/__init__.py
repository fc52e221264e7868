"""The lightweight stage-3 translator (what ships inside a style)."""

from .network import STRIDE, TIERS, Translator, grow_state, tier_table

__all__ = ["STRIDE", "TIERS", "Translator", "grow_state", "tier_table"]
