"""Style folders and the registry that finds them by name."""

from .registry import available_styles, load_style, style_roots
from .style import NetSpec, Style, StyleConfig, save_style

__all__ = ["NetSpec", "Style", "StyleConfig", "available_styles", "load_style", "save_style", "style_roots"]
