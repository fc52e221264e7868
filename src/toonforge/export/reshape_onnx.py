"""A style's face reshape as a small ONNX graph, for apps that run the head network themselves.

``head.onnx`` draws an aligned face; a style with a ``"reshape"`` then resamples that drawing
through a warp built from the face's five landmarks (``face.reshape``). ``reshape.onnx`` is that
step on its own, so an app can chain the two in ONNX Runtime (Mobile) without porting the warp:

* input ``image``: ``(1, C, S, S)`` float32, any value range (bilinear resampling is linear;
  typically ``head.onnx``'s output in [-1, 1]);
* input ``landmarks``: ``(5, 2)`` float32, eye centres (left, right in the image), nose tip,
  mouth corners, in pixels of that crop with pixel centres at integers;
* output ``reshaped``: ``(1, C, S, S)`` float32.

The spec's amounts are constants of the graph; the crop size ``S`` is free. The graph traces
the same code as the stylizer's NumPy path (:func:`toonforge.face.reshape.warp_grid`) and
samples like ``cv2.remap`` (bilinear, reflected border, which the warp never reaches).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InputError
from ..face.reshape import ReshapeSpec, warp_grid
from ..io.files import atomic_output
from .onnx_export import OPSET

__all__ = ["RESHAPE_ONNX", "ReshapeWarp", "export_reshape_onnx", "run_reshape_onnx"]

RESHAPE_ONNX = "reshape.onnx"  # its file name in a style folder


class ReshapeWarp(nn.Module):
    """``(image (1, C, S, S), landmarks (5, 2)) -> (1, C, S, S)``: the reshape of ``spec``."""

    def __init__(self, spec: ReshapeSpec) -> None:
        super().__init__()
        self.spec = spec

    def forward(self, image: torch.Tensor, landmarks: torch.Tensor) -> torch.Tensor:
        size = image.shape[-1]
        grid = torch.arange(size, dtype=torch.float32, device=image.device)
        py, px = torch.meshgrid(grid, grid, indexing="ij")
        src_x, src_y = warp_grid(px, py, landmarks.to(torch.float32), self.spec)
        # align_corners=True puts -1 and 1 on the centres of the first and last pixels.
        scale = 2.0 / (size - 1)
        norm = torch.stack([src_x * scale - 1.0, src_y * scale - 1.0], dim=-1)[None]
        return F.grid_sample(image, norm, mode="bilinear", padding_mode="reflection", align_corners=True)


def export_reshape_onnx(spec: ReshapeSpec, path: str | Path, *, sample_size: int = 256) -> Path:
    """Write :class:`ReshapeWarp` of ``spec`` to ``path`` (atomically; replaces a file there)."""
    if spec.is_identity:
        raise InputError("this reshape moves nothing: there is no reshape graph to export")
    path = Path(path)
    image = torch.zeros(1, 3, sample_size, sample_size)
    landmarks = torch.tensor([[0.38, 0.48], [0.62, 0.48], [0.5, 0.62], [0.4, 0.73], [0.6, 0.73]]) * sample_size
    with atomic_output(path) as tmp, warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            ReshapeWarp(spec).eval(), (image, landmarks), str(tmp), dynamo=False, opset_version=OPSET,
            input_names=["image", "landmarks"], output_names=["reshaped"],
            dynamic_axes={"image": {1: "channels", 2: "size", 3: "size"},
                          "reshaped": {1: "channels", 2: "size", 3: "size"}},
        )
    return path


def run_reshape_onnx(path: str | Path, image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """Run a ``reshape.onnx`` on one ``(S, S, C)`` image (any dtype; float32 out) with ``(5, 2)``
    landmarks: a reference for apps, and what the parity tests call."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = np.ascontiguousarray(np.asarray(image, np.float32).transpose(2, 0, 1)[None])
    out = session.run(None, {"image": x, "landmarks": np.asarray(landmarks, np.float32)})[0]
    return out[0].transpose(1, 2, 0)
