"""``toonforge forge``: run a style recipe (a TOML file) stage by stage, resumably."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..io.outputs import declare_io


def register(sub: argparse._SubParsersAction) -> None:
    from ..forge import STAGES

    p = sub.add_parser(
        "forge", help="run a style recipe (TOML): align, teacher, pairs, student, eval, card",
        description="Run the production line a recipe file declares (examples/recipes/*.toml; the format is "
        "in toonforge.forge.recipe) into a work folder, stage by stage. Each stage's state is kept in "
        "WORKDIR/forge.json: a rerun skips finished stages and continues a stopped one.",
    )
    p.add_argument("recipe", type=Path, metavar="RECIPE.toml", help="the recipe file")
    p.add_argument("-o", "--output", type=Path, default=None,
                   help="work folder (new, empty or an earlier forge run of this recipe; default forge-NAME)")
    p.add_argument("--until", choices=STAGES, default=None, help="stop after this stage (default: run them all)")
    p.add_argument("--quiet", action="store_true", help="no stage messages or progress bars")
    declare_io(p, inputs=["recipe"], outputs={"output": "folder"})
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..forge.runner import run_recipe

    result = run_recipe(args.recipe, args.output, until=args.until, quiet=args.quiet)
    if not args.quiet:
        done = [s for s, state in result.items() if state == "done"]
        print(f"forge: {len(done)} stage(s) run, {len(result) - len(done)} skipped")
    return 0
