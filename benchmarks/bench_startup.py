"""Start-up cost of the CLI: wall and CPU seconds of `--help`, `styles`, one-photo `stylize` and a
failing `stylize`, each a fresh process, medians of interleaved runs.

    git archive <old commit> | tar -x -C /tmp/before          # the tree to compare against
    python benchmarks/bench_startup.py --before /tmp/before/src [--runs 7]

Without ``--before`` only this tree is timed, against ``python -c pass`` as the reference (the
interpreter's own start-up). Runs alternate between the trees so both see the same machine
load; CPU seconds (user + sys of the child) move much less with load than wall seconds.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
DEFAULT_PHOTO = HERE.parent / "shared" / "data" / "faces" / "scut" / "AF1554.jpg"


def timed(argv: list[str], src: str | None) -> tuple[float, float]:
    env = {**os.environ, "PYTHONPATH": src} if src else dict(os.environ)
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, *argv], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--before", type=Path, default=None, help="src/ folder of the tree to compare against")
    ap.add_argument("--runs", type=int, default=7, help="runs per command and tree")
    ap.add_argument("--photo", type=Path, default=DEFAULT_PHOTO, help="the photo stylize runs on")
    args = ap.parse_args()
    out = Path(tempfile.mkdtemp(prefix="bench-startup-"))
    trees = {"after": str(HERE / "src")}
    if args.before:
        trees = {"before": str(args.before), **trees}
    cmds = {
        "--help": ["--help"],
        "styles": ["styles"],
        "stylize (one photo)": ["stylize", str(args.photo), "-o", "{out}.png", "--style", "classic", "--overwrite"],
        "stylize (missing input)": ["stylize", "/nonexistent.jpg", "-o", "{out}-x.png"],
    }
    res: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for i in range(args.runs):
        order = list(trees.items()) if i % 2 == 0 else list(reversed(trees.items()))
        res.setdefault(("python -c pass", ""), []).append(timed(["-c", "pass"], None))
        for name, argv in cmds.items():
            for tree, src in order:
                cmd = ["-m", "toonforge", *(a.format(out=out / tree) for a in argv)]
                res.setdefault((name, tree), []).append(timed(cmd, src))
    med = {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v)) for k, v in res.items()}
    print(f"{args.runs} runs each, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end")
    ref = med[("python -c pass", "")]
    print(f"reference `python -c pass`: {ref[0]:.2f} s wall, {ref[1]:.2f} s CPU")
    head = " | ".join(f"{t} wall s | {t} CPU s" for t in trees)
    print(f"| command | {head} |" + (" after/before wall |" if args.before else ""))
    print("|---|" + "---|---|" * len(trees) + ("---|" if args.before else ""))
    for name in cmds:
        cells = " | ".join(f"{med[(name, t)][0]:.2f} | {med[(name, t)][1]:.2f}" for t in trees)
        ratio = f" {med[(name, 'after')][0] / med[(name, 'before')][0]:.2f}x |" if args.before else ""
        print(f"| `toonforge {name}` | {cells} |{ratio}")


if __name__ == "__main__":
    main()
