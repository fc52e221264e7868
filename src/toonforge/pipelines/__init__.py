"""Inference pipelines: all stylization logic lives here (CLI and app are thin layers)."""

from .stylizer import StylizeResult, Stylizer

__all__ = ["StylizeResult", "Stylizer"]
