"""Translator tiers vs the DCT-Net texture U-Net (reference), ONNX Runtime, same process.

    python benchmarks/bench_translator.py [--threads 2] [--sizes 256 512] [--repeats 20]

Prints milliseconds per image and the speed-up of each tier over the reference
(reference time / tier time). Random weights: speed does not depend on the values.
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

CANDIDATES = {
    "reference (texture_unet 32ch/4rb)": ("texture_unet", {}),
    "translator tiny": ("translator", {"tier": "tiny"}),
    "translator small": ("translator", {"tier": "small"}),
    "translator small-hd": ("translator", {"tier": "small-hd"}),
    "translator small-subpixel": ("translator", {"tier": "small-subpixel"}),
    "translator base": ("translator", {"tier": "base"}),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    ap.add_argument("--repeats", type=int, default=20)
    args = ap.parse_args()
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        runners = {}
        for label, (name, cfg) in CANDIDATES.items():
            net = create_model(name, **cfg).eval()
            path = export_onnx(net, Path(tmp) / f"{name}-{cfg.get('tier', 'ref')}.onnx")
            runners[label] = OnnxRunner(path, threads=args.threads)
        print(f"ONNX Runtime, {args.threads} threads, median of {args.repeats} interleaved runs")
        for size in args.sizes:
            x = np.random.default_rng(0).uniform(-1, 1, (1, 3, size, size)).astype(np.float32)
            times = time_interleaved({k: (lambda r=r, x=x: r(x)) for k, r in runners.items()}, args.repeats)
            ref = times[next(iter(CANDIDATES))]
            print(f"\n{size}x{size}")
            print(f"  {'model':<36} {'ms':>8} {'speed-up':>9}")
            for label, t in times.items():
                print(f"  {label:<36} {t * 1e3:8.2f} {ref / t:8.2f}x")


if __name__ == "__main__":
    main()
