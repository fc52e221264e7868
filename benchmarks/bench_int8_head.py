"""Would an INT8 head network make video faster? Static INT8 of a style's head: time and fidelity.

    python benchmarks/bench_int8_head.py [--style classic] [--calibrate 40] [--test 30] [--threads 2]

ONNX Runtime's static quantization (QDQ format, per-channel int8 weights, uint8 activations)
of the style's shipped ``head.onnx``, calibrated on aligned crops of the first ``--calibrate``
SCUT portraits of ../shared/data and tested on crops of the last ``--test`` ones: milliseconds a
crop (batches of 8, the video's batch) for the float and the int8 graph, timed in turns in one
run, and the PSNR of the int8 output against the float one. The quantized graph is written to a
temporary folder only; nothing here ships it (it needs the ``onnx`` package: ``pip install -e
.[dev]``).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from toonforge.export.sessions import open_session
from toonforge.face.align import align_face
from toonforge.face.frontend import build_detector
from toonforge.io.images import load_image
from toonforge.metrics.psnr import psnr
from toonforge.pipelines.tensors import from_network, to_network
from toonforge.styles import load_style

SCUT = Path(__file__).resolve().parents[2] / "shared" / "data" / "faces" / "scut"


def crops(paths: list[Path], side: int) -> list[np.ndarray]:
    """Aligned (side, side, 3) uint8 head crops of the portraits where a face is found."""
    det = build_detector("blazeface", min_face=40)
    out = []
    for p in paths:
        rgb = load_image(p).rgb
        faces = det(rgb)
        if faces:
            out.append(align_face(rgb, faces[0].landmarks, side).crop)
    return out


def ms_per_crop(session, name: str, x: np.ndarray, repeats: int) -> float:
    session.run(None, {name: x})
    t0 = time.perf_counter()
    for _ in range(repeats):
        session.run(None, {name: x})
    return (time.perf_counter() - t0) / repeats / len(x) * 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--style", default="classic")
    ap.add_argument("--calibrate", type=int, default=40, help="portraits to calibrate on")
    ap.add_argument("--test", type=int, default=30, help="other portraits to test on")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=10)
    args = ap.parse_args()
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    style = load_style(args.style)
    src = style.path / "head.onnx"
    if not src.is_file():
        raise SystemExit(f"error: style {args.style!r} has no head.onnx")
    side = style.spec("head").resolution
    paths = sorted(SCUT.glob("*.jpg"))
    if len(paths) < args.calibrate + args.test:
        raise SystemExit(f"error: {SCUT} holds {len(paths)} portraits; need {args.calibrate + args.test}")
    vr = style.config.value_range
    calibration, test = crops(paths[:args.calibrate], side), crops(paths[-args.test:], side)
    float_session = open_session(src, threads=args.threads)
    name = float_session.get_inputs()[0].name

    class Crops(CalibrationDataReader):
        def __init__(self) -> None:
            self.items = iter([{name: to_network([c], vr)} for c in calibration])

        def get_next(self):
            return next(self.items, None)

    here = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="int8-head-") as tmp:
        pre, q8 = Path(tmp) / "pre.onnx", Path(tmp) / "head-int8.onnx"
        os.chdir(tmp)  # the quantization tools leave temporary files in the working folder
        try:
            quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
            quantize_static(str(pre), str(q8), Crops(), quant_format=QuantFormat.QDQ, per_channel=True,
                            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
        finally:
            os.chdir(here)
        int8_session = open_session(q8, threads=args.threads)
        batch = to_network(test[:8], vr)
        times = {"float": [], "int8": []}
        for _ in range(3):  # in turns, so the machine's noise hits both
            times["float"].append(ms_per_crop(float_session, name, batch, args.repeats))
            times["int8"].append(ms_per_crop(int8_session, name, batch, args.repeats))
        x = to_network(test, vr)
        a = from_network(float_session.run(None, {name: x})[0], vr)
        b = from_network(int8_session.run(None, {name: x})[0], vr)
    scores = np.array([psnr(p, q) for p, q in zip(a, b)])
    f, q = min(times["float"]), min(times["int8"])
    print(f"style {args.style}, {side} px head, {len(calibration)} calibration and {len(test)} test crops, "
          f"{args.threads} threads")
    print(f"  float {f:.2f} ms/crop, int8 {q:.2f} ms/crop: {f / q:.2f}x faster")
    print(f"  int8 vs float output: PSNR mean {scores.mean():.1f} dB, worst {scores.min():.1f} dB")


if __name__ == "__main__":
    main()
