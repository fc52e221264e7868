"""Inference pipelines: all stylization logic lives here (CLI and app are thin layers)."""

from .stylizer import Stylizer, StylizeResult

__all__ = ["StylizeResult", "Stylizer"]
