"""``toonforge styles``: list the styles the registry can find."""

from __future__ import annotations

import argparse

from ..io.outputs import declare_io


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("styles", help="list available styles",
                       description="List the styles toonforge can use by name (name, resolution, tier, summary): the "
                       "folders of TOONFORGE_STYLES, then ~/.toonforge/styles, then the shipped ones; "
                       "a name found earlier hides the same name later.")
    p.add_argument("--paths", action="store_true", help="also print each style's folder")
    declare_io(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..styles.catalog import catalog

    rows = [(r.name, r.resolution, r.tier, r.summary, r.path) for r in catalog()]
    width = max([len("name"), *(len(row[0]) for row in rows)])  # user style names can be long
    print(f"{'name':<{width}} {'res':>5}  {'tier':<8} summary")
    for name, res, tier, summary, path in rows:
        print(f"{name:<{width}} {res:>5}  {tier:<8} {summary}")
        if args.paths:
            print(f"{'':<{width}} {'':>5}  {'':<8} {path}")
    return 0
