"""Does a multi-style model measure up to the single-style students it was distilled from?

    python scripts/multi_style_report.py MULTI --photos HELDOUT --group REFS=STYLE,STYLE... \
        [--group REFS2=STYLE...] -o OUT [--singles NAME=FOLDER ...]

For each ``--group`` (a folder of style references and the styles measured against it), runs
``toonforge eval`` twice over the held-out photos, once with the single-style students (each style
by its own name, or the folder ``--singles`` gives) and once with ``MULTI@STYLE``, into
``OUT/single-<i>`` and ``OUT/multi-<i>`` (an existing report is reused: rerun after a stop). Then,
per style: FD-MNv2 to the references for both, FD-MNv2 from the multi-style outputs to the student's
outputs (the same photos), identity, face found, the skin slope and tone spread, and the verdict
of issue 31's rule: the multi-style model may replace a student only if its FD to the references
is within 5% of the student's and its identity within 0.01. Writes ``OUT/report.md`` and
``OUT/report.json``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from toonforge.evaluation.runner import _slug
from toonforge.io.images import list_images, load_image

FD_MARGIN = 0.05  # FD to the references at most 5% above the student's
IDENTITY_MARGIN = 0.01


def run_eval(styles: list[str], photos: Path, refs: Path, out: Path, title: str, extra: list[str]) -> dict:
    report = out / "report.json"
    if not report.is_file():
        cmd = [sys.executable, "-m", "toonforge", "eval", "--style", *styles, "--photos", str(photos),
               "--refs", str(refs), "-o", str(out), "--title", title, "--overwrite", *extra]
        print("$", " ".join(cmd), file=sys.stderr, flush=True)
        subprocess.run(cmd, check=True)
    return json.loads(report.read_text())


def row_of(report: dict, label: str) -> dict:
    return next(r for r in report["rows"] if r["name"] == label)


def fd_between_folders(a: Path, b: Path, extractor) -> float:
    from toonforge.metrics import extract_features
    from toonforge.metrics.frechet import fd_between

    names = sorted({p.name for p in list_images(a)} & {p.name for p in list_images(b)})
    fa = extract_features(extractor, [load_image(a / n).rgb for n in names])
    fb = extract_features(extractor, [load_image(b / n).rgb for n in names])
    return fd_between(fa, fb)


def _num(x, fmt: str) -> str:
    return "—" if x is None else format(x, fmt)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("multi", help="the multi-style model (name or folder)")
    ap.add_argument("--photos", type=Path, required=True, help="held-out photos")
    ap.add_argument("--group", action="append", required=True, help="REFS=STYLE,STYLE...")
    ap.add_argument("--singles", nargs="*", default=[], help="NAME=FOLDER: a student other than the installed NAME")
    ap.add_argument("-o", "--output", type=Path, required=True)
    ap.add_argument("--eval-args", default="--backend onnx --threads 1 --speed-photos 0 --quiet",
                    help="extra toonforge eval arguments (default: %(default)s)")
    args = ap.parse_args()
    from toonforge.metrics import create_extractor

    singles = dict(s.split("=", 1) for s in args.singles)
    extra = args.eval_args.split()
    extractor = create_extractor("mnv2")
    rows = []
    for i, group in enumerate(args.group):
        refs, styles = group.split("=", 1)
        names = styles.split(",")
        single_args = [singles.get(n, n) for n in names]
        multi_args = [f"{args.multi}@{n}" for n in names]
        single = run_eval(single_args, args.photos, Path(refs), args.output / f"single-{i}",
                          "single-style students", extra)
        multi = run_eval(multi_args, args.photos, Path(refs), args.output / f"multi-{i}",
                         f"multi-style model {Path(args.multi).name}", extra)
        for n, s_arg in zip(names, single_args):
            s_row = row_of(single, Path(s_arg).name if "/" in s_arg else s_arg)
            m_row = next(r for r in multi["rows"] if r["name"].endswith(f"@{n}"))
            to_student = fd_between_folders(args.output / f"multi-{i}" / "outputs" / _slug(m_row["name"]),
                                            args.output / f"single-{i}" / "outputs" / _slug(s_row["name"]), extractor)
            ok = (m_row["fd"] <= s_row["fd"] * (1 + FD_MARGIN)
                  and m_row["identity"] >= s_row["identity"] - IDENTITY_MARGIN)
            rows.append({"style": n, "refs": refs, "single": s_row, "multi": m_row, "fd_to_student": to_student,
                         "passes": bool(ok)})
    lines = ["| style | FD to refs: student → multi (ratio) | FD multi→student | identity: student → multi | "
             "face found | skin slope | tone spread | passes |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        s, m = r["single"], r["multi"]
        ss, ms = s.get("skin") or {}, m.get("skin") or {}
        lines.append(
            f"| {r['style']} | {s['fd']:.1f} → {m['fd']:.1f} ({m['fd'] / s['fd']:.3f}) | {r['fd_to_student']:.1f} | "
            f"{s['identity']:.3f} → {m['identity']:.3f} | {s['face_found_rate']:.0%} → {m['face_found_rate']:.0%} | "
            f"{_num(ss.get('slope'), '.2f')} → {_num(ms.get('slope'), '.2f')} | "
            f"{_num(ss.get('spread'), '.1f')} → {_num(ms.get('spread'), '.1f')} | {'yes' if r['passes'] else 'no'} |")
    verdict = all(r["passes"] for r in rows)
    text = "\n".join(lines) + (f"\n\nRule: FD to the references within {FD_MARGIN:.0%} of the student's and identity "
                               f"within {IDENTITY_MARGIN}; every style passes: {'yes' if verdict else 'no'}.\n")
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "report.md").write_text(text)
    (args.output / "report.json").write_text(json.dumps({"rows": rows, "passes": verdict}, indent=1, default=float))
    print(text)


if __name__ == "__main__":
    main()
