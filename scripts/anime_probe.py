"""Thin caller of `toonforge.metrics.probe` (the tool lives in the package; see its docstring):
`python scripts/anime_probe.py ...` is `python -m toonforge.metrics.probe ...`."""

import sys

from toonforge.metrics.probe import main

if __name__ == "__main__":
    sys.exit(main())
