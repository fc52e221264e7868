"""toonforge: portrait stylization and the production line that makes its styles."""

__version__ = "0.1.0"
