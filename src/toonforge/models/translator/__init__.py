"""The lightweight stage-3 translator (what ships inside a style)."""

from .multi import MultiStyleTranslator, StyleBatchNorm, multi_state_from_single
from .network import STRIDE, TIERS, Translator, grow_state, tier_table

__all__ = ["STRIDE", "TIERS", "MultiStyleTranslator", "StyleBatchNorm", "Translator", "grow_state",
           "multi_state_from_single", "tier_table"]
