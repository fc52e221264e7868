"""The multi-style translator against the single-style one of the same tier, ONNX Runtime, same process.

    python benchmarks/bench_multi_style.py [--threads 2] [--sizes 256 512] [--repeats 20] [--tiers small small-hd]

For each tier and size: milliseconds per image of the single-style graph (the reference), of the
multi-style graph with the mix as an input (``head.onnx`` as shipped, what an app feeding the
style itself runs), and of that graph with the mix baked in as a constant (what the toonforge
runtime runs, ``export.bake_mix``), and the ratio of each to the reference (1.00 = as fast).
Random weights with distinct style rows: speed does not depend on the values.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch

from toonforge.export.onnx_export import export_onnx
from toonforge.export.runtime import OnnxRunner
from toonforge.metrics.speed import time_interleaved
from toonforge.models.factory import create_model

STYLES = ["classic", "sketch", "colour-sketch", "cartoon", "anime"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--tiers", nargs="+", default=["small", "small-hd"])
    args = ap.parse_args()
    torch.manual_seed(0)
    mix = np.array([0.0, 0.0, 0.0, 0.3, 0.7], np.float32)
    print(f"ONNX Runtime, {args.threads} threads, median of {args.repeats} interleaved runs, "
          f"{len(STYLES)} styles, mix {mix.tolist()}")
    with tempfile.TemporaryDirectory() as tmp:
        for tier in args.tiers:
            single = export_onnx(create_model("translator", tier=tier), Path(tmp) / f"single-{tier}.onnx")
            multi_net = create_model("translator-multi", styles=STYLES, tier=tier)
            with torch.no_grad():
                for name, p in multi_net.named_parameters():
                    if "style_" in name:
                        p.add_(0.1 * torch.randn_like(p))
            multi = export_onnx(multi_net, Path(tmp) / f"multi-{tier}.onnx")
            ref = OnnxRunner(single, threads=args.threads)
            plain = OnnxRunner(multi, threads=args.threads, bake=False)
            baked = OnnxRunner(multi, threads=args.threads)
            for size in args.sizes:
                x = np.random.default_rng(0).uniform(-1, 1, (1, 3, size, size)).astype(np.float32)
                assert np.abs(baked(x, mix) - plain(x, mix)).max() < 1e-4
                runs = {"single-style (reference)": lambda r=ref, x=x: r(x),
                        "multi, mix as input": lambda r=plain, x=x: r(x, mix),
                        "multi, mix baked in": lambda r=baked, x=x: r(x, mix)}
                times = time_interleaved(runs, args.repeats)
                base = times["single-style (reference)"]
                cells = [f"{label} {t * 1e3:.2f} ms ({t / base:.2f}x)" for label, t in times.items()]
                print(f"{tier} {size}x{size}: " + "; ".join(cells))

if __name__ == "__main__":
    main()
