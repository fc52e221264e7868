"""Thin caller of `toonforge.evaluation.ab_sheets` (the tool lives in the package; see its docstring):
`python scripts/ab_sheets.py ...` is `python -m toonforge.evaluation.ab_sheets ...`."""

import sys

from toonforge.evaluation.ab_sheets import main

if __name__ == "__main__":
    sys.exit(main())
