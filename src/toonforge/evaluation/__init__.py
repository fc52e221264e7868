"""Evaluation of styles on a photo set: metric tables, contact sheets, training-curve plots.

The metrics themselves live in :mod:`toonforge.metrics`; this package runs them over styles
and writes what ``toonforge eval`` and ``toonforge card`` produce.
"""

from .report import EvalReport, StyleRow

__all__ = ["EvalReport", "StyleRow"]
