"""``toonforge styles``: list the styles the registry can find."""

from __future__ import annotations

import argparse

from ..io.outputs import declare_io


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("styles", help="list available styles")
    p.add_argument("--paths", action="store_true", help="also print each style's folder")
    declare_io(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import ToonforgeError
    from ..styles.registry import available_styles
    from ..styles.style import Style

    rows = []
    for name, path in available_styles().items():
        try:
            s = Style.load(path)
            if s.config.kind == "filter":
                res, tier = "any", "filter"
            else:
                spec = s.spec("head")
                res, tier = str(spec.resolution), str(spec.config.get("tier", spec.model))
            rows.append((name, res, tier, s.summary(), path))
        except (ToonforgeError, OSError, ValueError, TypeError, AttributeError) as exc:  # list the others
            rows.append((name, "-", "-", f"(broken: {exc})".replace("\n", " "), path))
    width = max([len("name"), *(len(row[0]) for row in rows)])  # user style names can be long
    print(f"{'name':<{width}} {'res':>5}  {'tier':<8} summary")
    for name, res, tier, summary, path in rows:
        print(f"{name:<{width}} {res:>5}  {tier:<8} {summary}")
        if args.paths:
            print(f"{'':<{width}} {'':>5}  {'':<8} {path}")
    return 0
