"""Thin caller of `toonforge.evaluation.skin_ink` (the tool lives in the package; see its docstring):
`python scripts/skin_ink.py ...` is `python -m toonforge.evaluation.skin_ink ...`."""

import sys

from toonforge.evaluation.skin_ink import main

if __name__ == "__main__":
    sys.exit(main())
