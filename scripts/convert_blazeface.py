"""Convert MediaPipe's BlazeFace ``.tflite`` face detectors to ONNX, once, for the package.

    pip download --no-deps mediapipe==0.10.21 -d /tmp/mp && unzip -q /tmp/mp/mediapipe-*.whl -d /tmp/mp
    pip install tflite==2.18.0 ai-edge-litert==2.3.0     # conversion only, never at run time
    python scripts/convert_blazeface.py /tmp/mp/mediapipe/modules/face_detection \
        -o src/toonforge/face/models

Writes ``blazeface_short.onnx`` (128x128 input, faces filling a good part of the picture) and
``blazeface_full.onnx`` (192x192 input, smaller faces), each with the same inputs and outputs
as the ``.tflite`` original: ``input`` (N, S, S, 3) float32 RGB in [-1, 1], NHWC; ``regressors``
(N, A, 16) float32 and ``classificators`` (N, A, 1) float32 logits, A anchors (the batch size N
is free, where the original's is 1; the full-range model's height and width are free too, any
multiples of 32, see ``free_size``). Inside, the graph
is NCHW (one transpose at the input, and one before each reshape of a head).

The weights of the originals are stored as float16 (and, in the full-range model, as sparse
tensors); LiteRT's interpreter reads them out densified in float32 after one run, so this
script never has to decode the sparse format itself. The ONNX graph is then checked against
LiteRT on random inputs (max absolute difference printed; the script fails above 1e-3).

The models are Apache-2.0 (Google, MediaPipe); their notice is written beside them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

MODELS = {
    "blazeface_short.onnx": "face_detection_short_range.tflite",
    "blazeface_full.onnx": "face_detection_full_range_sparse.tflite",
}
NOTICE = """BlazeFace face detection models (blazeface_short.onnx, blazeface_full.onnx)

Converted to ONNX by scripts/convert_blazeface.py from face_detection_short_range.tflite and
face_detection_full_range_sparse.tflite in the mediapipe 0.10.21 wheel (PyPI). Only the file
format changed: the weights are the same numbers (float16 widened to float32, sparse tensors
made dense).

Copyright 2019-2024 The MediaPipe Authors (Google LLC).
Licensed under the Apache License, Version 2.0 (the "License"); you may not use these files
except in compliance with the License. You may obtain a copy of the License at
    http://www.apache.org/licenses/LICENSE-2.0
Unless required by applicable law or agreed to in writing, software distributed under the
License is distributed on an "AS IS" BASIS, WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND,
either express or implied. See the License for the specific language governing permissions
and limitations under the License.
"""

_SKIP = {"DEQUANTIZE", "DENSIFY"}  # weight decoding: their outputs are read as constants
_ACTS = {0: None, 1: "Relu"}


def _t(index: int) -> str:
    """ONNX name of TFLite tensor ``index``."""
    return f"t{index}"


def _op_names() -> dict[int, str]:
    import tflite

    return {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}


def convert(tflite_path: Path) -> onnx.ModelProto:
    import tflite
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    buf = tflite_path.read_bytes()
    model = tflite.Model.GetRootAsModel(buf, 0)
    graph = model.Subgraphs(0)
    names = _op_names()
    codes = [model.OperatorCodes(i) for i in range(model.OperatorCodesLength())]

    # No XNNPACK delegate: it would take the weight-decoding ops over and leave their outputs empty.
    interp = Interpreter(model_path=str(tflite_path), experimental_preserve_all_tensors=True,
                         experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    interp.allocate_tensors()
    inp = interp.get_input_details()[0]
    interp.set_tensor(inp["index"], np.zeros(inp["shape"], np.float32))
    interp.invoke()

    ops = []
    produced: set[int] = set()
    for i in range(graph.OperatorsLength()):
        op = graph.Operators(i)
        code = codes[op.OpcodeIndex()]
        name = names[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())]
        if name not in _SKIP:
            ops.append((name, op))
            produced.update(int(t) for t in op.OutputsAsNumpy())
    in_idx = int(graph.Inputs(0))
    shapes = {j: [int(v) for v in graph.Tensors(j).ShapeAsNumpy()] for j in range(graph.TensorsLength())}

    nodes: list[onnx.NodeProto] = []
    inits: list[onnx.TensorProto] = []
    # Activation tensors live in NCHW (4-D) inside the graph; "t{j}" names them.
    nodes.append(helper.make_node("Transpose", ["input"], [_t(in_idx)], perm=[0, 3, 1, 2]))

    def const(j: int) -> np.ndarray:
        return np.asarray(interp.get_tensor(j)).copy()

    def add_init(name: str, value: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(value, name))
        return name

    def act(out: str, fused: int) -> list[str]:
        if fused not in _ACTS:
            raise SystemExit(f"unsupported fused activation {fused}")
        return [out + "_pre", out] if _ACTS[fused] else [out, out]

    def emit(op_type: str, ins: list[str], out: str, fused: int, **attrs) -> None:
        pre, final = act(out, fused)
        nodes.append(helper.make_node(op_type, ins, [pre], **attrs))
        if pre != final:
            nodes.append(helper.make_node(_ACTS[fused], [pre], [final]))

    def same_pads(in_hw, k_hw, stride, padding) -> list[int]:
        if padding == 1:  # VALID
            return [0, 0, 0, 0]
        pads = []
        for n, k, s in zip(in_hw, k_hw, stride):
            out = -(-n // s)
            total = max((out - 1) * s + k - n, 0)
            pads.append((total // 2, total - total // 2))
        return [pads[0][0], pads[1][0], pads[0][1], pads[1][1]]

    for name, op in ops:
        ins = [int(t) for t in op.InputsAsNumpy()]
        out = int(op.OutputsAsNumpy()[0])
        oname = _t(out)
        opts = op.BuiltinOptions()
        if name in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            o = (tflite.Conv2DOptions if name == "CONV_2D" else tflite.DepthwiseConv2DOptions)()
            o.Init(opts.Bytes, opts.Pos)
            w = const(ins[1]).astype(np.float32)
            b = const(ins[2]).astype(np.float32)
            if name == "CONV_2D":
                w = w.transpose(0, 3, 1, 2)  # OHWI -> OIHW
                group = 1
            else:
                w = w.transpose(3, 0, 1, 2)  # 1HWO -> O1HW
                group = w.shape[0]
            stride = [o.StrideH(), o.StrideW()]
            pads = same_pads(shapes[ins[0]][1:3], w.shape[2:], stride, o.Padding())
            emit("Conv", [_t(ins[0]), add_init(f"w{out}", w), add_init(f"b{out}", b)], oname,
                 o.FusedActivationFunction(), kernel_shape=list(w.shape[2:]), strides=stride, pads=pads,
                 group=group)
        elif name == "ADD":
            o = tflite.AddOptions()
            o.Init(opts.Bytes, opts.Pos)
            emit("Add", [_t(ins[0]), _t(ins[1])], oname, o.FusedActivationFunction())
        elif name == "RELU":
            emit("Relu", [_t(ins[0])], oname, 0)
        elif name == "PAD":
            p = const(ins[1]).astype(np.int64)[[0, 3, 1, 2]]  # NHWC rows -> NCHW rows
            emit("Pad", [_t(ins[0]), add_init(f"p{out}", np.concatenate([p[:, 0], p[:, 1]]))], oname, 0)
        elif name == "MAX_POOL_2D":
            o = tflite.Pool2DOptions()
            o.Init(opts.Bytes, opts.Pos)
            k = [o.FilterHeight(), o.FilterWidth()]
            stride = [o.StrideH(), o.StrideW()]
            emit("MaxPool", [_t(ins[0])], oname, o.FusedActivationFunction(), kernel_shape=k,
                 strides=stride, pads=same_pads(shapes[ins[0]][1:3], k, stride, o.Padding()))
        elif name == "RESIZE_BILINEAR":
            o = tflite.ResizeBilinearOptions()
            o.Init(opts.Bytes, opts.Pos)
            mode = ("align_corners" if o.AlignCorners() else
                    "half_pixel" if o.HalfPixelCenters() else "asymmetric")
            hw = const(ins[1]).astype(np.int64)
            h_in, w_in = shapes[ins[0]][1:3]
            scales = np.array([1, 1, hw[0] / h_in, hw[1] / w_in], np.float32)  # scales: any batch size
            emit("Resize", [_t(ins[0]), "", add_init(f"s{out}", scales)], oname, 0, mode="linear",
                 coordinate_transformation_mode=mode)
        elif name == "DEPTH_TO_SPACE":
            o = tflite.DepthToSpaceOptions()
            o.Init(opts.Bytes, opts.Pos)
            emit("DepthToSpace", [_t(ins[0])], oname, 0, blocksize=o.BlockSize(), mode="DCR")
        elif name == "RESHAPE":
            src = _t(ins[0])
            if len(shapes[ins[0]]) == 4:  # back to NHWC so the anchor order is the original's
                nodes.append(helper.make_node("Transpose", [src], [src + "_nhwc"], perm=[0, 2, 3, 1]))
                src += "_nhwc"
            target = np.array([-1] + shapes[out][1:], np.int64)  # any batch size
            emit("Reshape", [src, add_init(f"r{out}", target)], oname, 0)
        elif name == "CONCATENATION":
            o = tflite.ConcatenationOptions()
            o.Init(opts.Bytes, opts.Pos)
            if any(len(shapes[j]) != 3 for j in ins):
                raise SystemExit("only concatenation of the reshaped heads is supported")
            emit("Concat", [_t(j) for j in ins], oname, o.FusedActivationFunction(), axis=int(o.Axis()))
        else:
            raise SystemExit(f"{tflite_path.name}: unsupported op {name}")

    outputs = [int(graph.Outputs(i)) for i in range(graph.OutputsLength())]
    out_names = []
    for j in outputs:
        tname = graph.Tensors(j).Name().decode()
        pretty = "regressors" if shapes[j][-1] == 16 else "classificators"
        nodes.append(helper.make_node("Identity", [_t(j)], [pretty]))
        out_names.append((pretty, shapes[j], tname))
    g = helper.make_graph(
        nodes, tflite_path.stem,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch"] + shapes[in_idx][1:])],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["batch"] + s[1:]) for n, s, _ in sorted(out_names)],
        initializer=inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], producer_name="toonforge")
    m.ir_version = 8
    m.doc_string = f"BlazeFace from MediaPipe's {tflite_path.name} (Apache-2.0), converted by toonforge"
    onnx.checker.check_model(m)
    return m, interp


def free_size(m: onnx.ModelProto) -> onnx.ModelProto:
    """Make a single-stride (full-range) graph take any input height and width that are multiples of 32.

    The network is convolutional; only the declared input size and the head reshapes (to the
    192 px anchor count) pin it. With ``height`` and ``width`` free and the reshapes keeping the
    batch and folding every cell into the anchor axis, one call answers for a whole level of the
    detector's pyramid (anchors row-major over the (H/4, W/4) grid) instead of many overlapping
    192 px windows; at 192 x 192 the outputs are those of the fixed graph (the "SAME" paddings
    of the stride-2 convolutions are the same for every multiple of 32).
    """
    dims = m.graph.input[0].type.tensor_type.shape.dim
    for d, name in ((dims[1], "height"), (dims[2], "width")):
        d.ClearField("dim_value")
        d.dim_param = name
    for out in m.graph.output:
        d = out.type.tensor_type.shape.dim[1]
        d.ClearField("dim_value")
        d.dim_param = "anchors"
    for i, init in enumerate(m.graph.initializer):
        if init.name.startswith("r"):  # the head reshapes' target shapes
            target = numpy_helper.to_array(init).copy()
            target[:2] = (0, -1)  # keep the batch, fold all cells into the anchors
            m.graph.initializer[i].CopyFrom(numpy_helper.from_array(target.astype(np.int64), init.name))
    del m.graph.value_info[:]
    onnx.checker.check_model(m)
    return m


def check_parity(m: onnx.ModelProto, interp, seed: int = 0) -> float:
    import onnxruntime as ort

    sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    inp = interp.get_input_details()[0]
    outs = {d["shape"][-1]: d["index"] for d in interp.get_output_details()}
    rng = np.random.default_rng(seed)
    worst = 0.0
    for _ in range(3):
        x = rng.uniform(-1, 1, inp["shape"]).astype(np.float32)
        interp.set_tensor(inp["index"], x)
        interp.invoke()
        reg, cls = sess.run(["regressors", "classificators"], {"input": x})
        worst = max(worst, float(np.abs(reg - interp.get_tensor(outs[16])).max()),
                    float(np.abs(cls - interp.get_tensor(outs[1])).max()))
    return worst


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", type=Path, help="mediapipe/modules/face_detection of an unzipped mediapipe wheel")
    ap.add_argument("-o", "--output", type=Path, required=True, help="folder for the .onnx files and NOTICE")
    ap.add_argument("--free-size-only", action="store_true",
                    help="only make the already converted full-range model in OUTPUT take any input size")
    args = ap.parse_args()
    if args.free_size_only:
        path = args.output / "blazeface_full.onnx"
        onnx.save(free_size(onnx.load(str(path))), str(path))
        return 0
    args.output.mkdir(parents=True, exist_ok=True)
    for onnx_name, tfl in MODELS.items():
        m, interp = convert(args.folder / tfl)
        diff = check_parity(m, interp)
        print(f"{tfl} -> {onnx_name}: {len(m.graph.node)} nodes, max |onnx - litert| = {diff:.2e}")
        if diff > 1e-3:
            print(f"error: {onnx_name} does not match LiteRT", file=sys.stderr)
            return 1
        if onnx_name == "blazeface_full.onnx":  # one anchor stride: any input size works
            m = free_size(m)
        onnx.save(m, str(args.output / onnx_name))
    (args.output / "NOTICE-blazeface.txt").write_text(NOTICE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
