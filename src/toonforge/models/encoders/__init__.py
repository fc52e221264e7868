"""Image encoders into a generator's latent codes."""

from .hierarchical import HierarchicalEncoder, split_groups

__all__ = ["HierarchicalEncoder", "split_groups"]
