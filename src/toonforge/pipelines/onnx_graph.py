"""Styles that are an outside ONNX image-to-image graph (``kind: "onnx"``), run by ONNX Runtime alone.

An imported graph keeps its own conventions; ``config.json``'s ``head`` records them (model
``onnx_graph``)::

    "head": {"model": "onnx_graph", "resolution": 256, "config": {
        "file": "model.onnx",          # in the style folder
        "layout": "NCHW",              # or "NHWC"
        "channels": "rgb",             # or "bgr"
        "input_range": [-1, 1],        # what the graph takes: [-1, 1], [0, 1] or [0, 255]
        "output_range": [-1, 1],       # what it gives back
        "fixed_size": true,            # the graph only takes resolution x resolution images
        "stride": 1,                   # dynamic graphs: H and W are padded to a multiple of this
        "aligned": true}}              # it wants FFHQ-aligned faces (a head model only)

:class:`GraphRunner` turns the pipeline's float32 (N, 3, H, W) RGB in [-1, 1] into what the graph
takes and its output back, so every part of the pipeline (head crops, full frames, video, eval)
uses it like any other runner. A fixed-size graph gets each image resized to its resolution and the
result resized back. An ``aligned`` graph has learnt faces only, so the full frame is not passed
through it: the frame stays the photo and the stylized faces are pasted on it (:class:`KeepFrame`).
Nothing here imports PyTorch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CheckpointError, InputError

MODEL = "onnx_graph"
LAYOUTS = ("NCHW", "NHWC")
CHANNELS = ("rgb", "bgr")
RANGES = {"-1,1": (-1.0, 1.0), "0,1": (0.0, 1.0), "0,255": (0.0, 255.0)}


def parse_range(text: str | Any) -> tuple[float, float]:
    """"-1,1" / "0,1" / "0,255" (or a pair) -> (low, high); InputError otherwise."""
    if isinstance(text, (list, tuple)) and len(text) == 2:
        lo, hi = float(text[0]), float(text[1])
    else:
        key = str(text).replace(" ", "")
        if key not in RANGES:
            raise InputError(f"value range {text!r} is not one of {', '.join(RANGES)}")
        lo, hi = RANGES[key]
    if (lo, hi) not in RANGES.values():
        raise InputError(f"value range {[lo, hi]} is not one of {', '.join(RANGES)}")
    return lo, hi


@dataclass(frozen=True)
class GraphSpec:
    """How to feed an imported graph (see the module docstring); ``resolution`` in pixels."""

    file: str
    resolution: int
    layout: str = "NCHW"
    channels: str = "rgb"
    input_range: tuple[float, float] = (-1.0, 1.0)
    output_range: tuple[float, float] = (-1.0, 1.0)
    fixed_size: bool = True
    stride: int = 1
    aligned: bool = True

    @classmethod
    def from_config(cls, config: dict[str, Any], resolution: int, where: str) -> GraphSpec:
        try:
            spec = cls(file=str(config["file"]), resolution=int(resolution), layout=str(config.get("layout", "NCHW")),
                       channels=str(config.get("channels", "rgb")),
                       input_range=parse_range(config.get("input_range", (-1, 1))),
                       output_range=parse_range(config.get("output_range", config.get("input_range", (-1, 1)))),
                       fixed_size=bool(config.get("fixed_size", True)), stride=int(config.get("stride", 1)),
                       aligned=bool(config.get("aligned", True)))
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"bad style config {where}: onnx_graph needs {exc}") from None
        spec.check(where)
        return spec

    def check(self, where: str) -> None:
        if self.layout not in LAYOUTS:
            raise InputError(f"bad style config {where}: layout {self.layout!r} not in {LAYOUTS}")
        if self.channels not in CHANNELS:
            raise InputError(f"bad style config {where}: channels {self.channels!r} not in {CHANNELS}")
        if self.stride < 1 or Path(self.file).name != self.file:
            raise InputError(f"bad style config {where}: stride must be >= 1 and file a plain file name")

    def to_config(self) -> dict[str, Any]:
        return {"file": self.file, "layout": self.layout, "channels": self.channels,
                "input_range": list(self.input_range), "output_range": list(self.output_range),
                "fixed_size": self.fixed_size, "stride": self.stride, "aligned": self.aligned}


def _session(path: Path, device: str = "cpu", threads: int | None = None):
    from ..export.sessions import open_session

    return open_session(path, device, threads)


def _dims(shape: list[Any], layout: str) -> tuple[Any, Any, Any, Any]:
    """(N, C, H, W) of a 4-D ONNX shape in ``layout``; unknown dims are strings or None."""
    n, a, b, c = shape
    return (n, a, b, c) if layout == "NCHW" else (n, c, a, b)


def describe_graph(path: str | Path, layout: str) -> dict[str, Any]:
    """Check an outside graph is an image-to-image network in ``layout`` and say what it takes.

    Returns {"batch": int or None (static batch), "size": (H, W) ints or None (dynamic)}. One-line
    CheckpointError for a graph with other than one input and one output, or without 3 channels.
    """
    path = Path(path)
    sess = _session(path)
    ins, outs = sess.get_inputs(), sess.get_outputs()
    if len(ins) != 1 or len(outs) < 1:
        raise CheckpointError(f"{path.name} has {len(ins)} inputs and {len(outs)} outputs; an image-to-image "
                              "graph has one input (the image) and its first output is the result")
    shape = list(ins[0].shape)
    if len(shape) != 4:
        raise CheckpointError(f"{path.name}: input {ins[0].name!r} has shape {shape}, not 4-D {layout}")
    n, c, h, w = _dims(shape, layout)
    if isinstance(c, int) and c != 3:
        raise CheckpointError(f"{path.name}: input has {c} channels in {layout} layout, not 3 "
                              f"(wrong --layout, or not an RGB image graph)")
    if "float" not in str(ins[0].type):
        raise CheckpointError(f"{path.name}: input type {ins[0].type}, expected a float tensor")
    out_shape = list(outs[0].shape)
    if len(out_shape) != 4:
        raise CheckpointError(f"{path.name}: output shape {out_shape} is not 4-D")
    oc = _dims(out_shape, layout)[1]
    if isinstance(oc, int) and oc != 3:
        raise CheckpointError(f"{path.name}: output has {oc} channels in {layout} layout, not 3")
    size = (h, w) if isinstance(h, int) and isinstance(w, int) else None
    return {"batch": n if isinstance(n, int) else None, "size": size}


class GraphRunner:
    """Runs an imported graph with the pipeline's calling convention (see :mod:`..export.runtime`):
    float32 (N, 3, H, W) RGB in [-1, 1] -> the same shape and range."""

    def __init__(self, path: str | Path, spec: GraphSpec, device: str = "cpu", threads: int | None = None) -> None:
        self.spec = spec
        self.session = _session(Path(path), device, threads)
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        self.one_at_a_time = inp.shape[0] == 1  # a graph exported with batch 1
        self.stride = 1 if spec.fixed_size else spec.stride

    def _to_graph(self, x: np.ndarray) -> np.ndarray:
        lo, hi = self.spec.input_range
        x = (x + 1.0) * 0.5 * (hi - lo) + lo
        if self.spec.channels == "bgr":
            x = x[:, ::-1]
        return np.ascontiguousarray(x.transpose(0, 2, 3, 1) if self.spec.layout == "NHWC" else x, dtype=np.float32)

    def _from_graph(self, y: np.ndarray) -> np.ndarray:
        if self.spec.layout == "NHWC":
            y = y.transpose(0, 3, 1, 2)
        if self.spec.channels == "bgr":
            y = y[:, ::-1]
        lo, hi = self.spec.output_range
        return np.clip((y.astype(np.float32) - lo) / (hi - lo) * 2.0 - 1.0, -1.0, 1.0)

    def _run(self, x: np.ndarray) -> np.ndarray:
        feed = self._to_graph(x)
        if self.one_at_a_time and feed.shape[0] > 1:
            outs = [self.session.run(None, {self.input_name: feed[i:i + 1]})[0] for i in range(feed.shape[0])]
            return self._from_graph(np.concatenate(outs))
        return self._from_graph(self.session.run(None, {self.input_name: feed})[0])

    def __call__(self, x: np.ndarray) -> np.ndarray:
        n, _, h, w = x.shape
        res = self.spec.resolution
        if not self.spec.fixed_size or (h, w) == (res, res):
            y = self._run(x)
        else:  # the graph's own size in, the caller's size out (float images, no rounding)
            y = _resize(self._run(_resize(x, res, res)), w, h)
        if y.shape != x.shape:
            raise CheckpointError(f"the style's ONNX graph returned {tuple(y.shape)} for an input of {tuple(x.shape)}")
        return y


def _resize(x: np.ndarray, w: int, h: int) -> np.ndarray:
    """float32 (N, 3, H, W) -> (N, 3, h, w): area filter when shrinking, bilinear when enlarging."""
    import cv2

    shrink = w < x.shape[3] and h < x.shape[2]
    mode = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    return np.stack([cv2.resize(np.ascontiguousarray(im.transpose(1, 2, 0)), (w, h), interpolation=mode)
                     .transpose(2, 0, 1) for im in x]).astype(np.float32)


class KeepFrame:
    """The full-frame "network" of an aligned-face graph: the frame passes unchanged."""

    stride = 1

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return x


def graph_runner(style: Any, role: str, device: str = "cpu", threads: int | None = None) -> GraphRunner | KeepFrame:
    """The runner for ``role`` ("head" or "full") of an ``onnx`` style (a loaded :class:`Style`)."""
    head = style.config.head
    spec = GraphSpec.from_config(head.config, head.resolution, f"{style.path}/config.json")
    if role == "full" and spec.aligned:
        return KeepFrame()
    return GraphRunner(Path(style.path) / spec.file, spec, device, threads)
