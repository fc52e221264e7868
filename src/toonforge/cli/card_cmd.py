"""``toonforge card``: fill the metrics section of a style's card.md from an evaluation."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..io.outputs import declare_io
from .eval_cmd import add_measure_args, check_measure_args, command_line, options_from
from .vocabulary import alias


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "card", help="fill a style card's metrics section from an evaluation",
        description="Evaluate STYLE on --photos against --refs (as `toonforge eval` does) and write the "
        "metrics, with the command that produced them, into the style's card.md between its metrics "
        "markers (other text is kept). --from-report reuses an earlier `toonforge eval` report instead.",
    )
    p.add_argument("style", metavar="STYLE", help="style name or folder")
    p.add_argument("--photos", type=Path, help="photos never trained on")
    p.add_argument("--refs", type=Path, help="style references for FD and KID")
    p.add_argument("--from-report", type=Path, default=None,
                   help="an eval report.json (or its folder) holding a row for this style")
    p.add_argument("-o", "--output", dest="out", type=Path, default=None,
                   help="where the evaluation goes (default: eval-card-<style>)")
    add_measure_args(p)
    p.add_argument("--overwrite", action="store_true", help="replace an earlier evaluation in -o/--output")
    alias(p, "--output", "--out")
    declare_io(p, inputs=["style:style", "photos", "refs", "from_report", "inception_weights"],
               outputs={"out": "own-folder"})
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import InputError
    from ..evaluation.card import write_card_metrics
    from ..evaluation.report import EvalReport
    from ..evaluation.runner import evaluate, style_label
    from ..styles.registry import load_style

    style = load_style(args.style)
    if style.path is None:
        raise InputError(f"style {args.style!r} has no folder to write a card into")
    name = style_label(args.style)
    if args.from_report is not None:
        path = args.from_report / "report.json" if args.from_report.is_dir() else args.from_report
        try:
            report = EvalReport.from_json(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError, KeyError) as exc:
            raise InputError(f"cannot read the report {path}: {exc}") from None
    else:
        if args.photos is None:
            raise InputError("give --photos (and --refs), or --from-report")
        check_measure_args(args)
        out = args.out or Path(f"eval-card-{name}")
        if (out / "report.json").exists() and not args.overwrite:
            raise InputError(f"{out} already holds a report; pass --overwrite, -o another folder or --from-report")
        report = evaluate([args.style], args.photos, args.refs, out, options_from(args),
                          title=f"Card metrics: {name}", command=command_line(args))
    card = write_card_metrics(style.path, report, name)
    print(f"metrics written to {card}")
    return 0
