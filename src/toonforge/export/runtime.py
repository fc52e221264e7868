"""Network runners with one calling convention for PyTorch and ONNX Runtime.

A runner maps a float32 array (N, 3, H, W) in [-1, 1] to an array of the same shape and
range. Pre- and post-processing live in ``pipelines.tensors`` and are shared by both, so the
two backends differ only in what executes the network.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from torch import nn

from ..errors import InputError
from ..models.image_output import generator_output
from .sessions import open_session


class Runner(Protocol):
    stride: int

    def __call__(self, x: np.ndarray) -> np.ndarray: ...


def resolve_device(device: str) -> torch.device:
    """'cpu', 'cuda' or 'cuda:N' -> torch.device; InputError when CUDA is not available."""
    if device == "cpu":
        return torch.device("cpu")
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise InputError("--device cuda was asked for, but PyTorch sees no CUDA GPU here")
        return torch.device(device)
    raise InputError(f"unknown device {device!r}; use cpu or cuda")


class TorchRunner:
    """Runs a PyTorch module in inference mode on ``device`` (float32).

    The module returns the image, or a tuple led by it (a stage-2 generator such as U-GAT-IT's).
    """

    def __init__(self, net: nn.Module, device: str = "cpu") -> None:
        self.device = resolve_device(device)
        self.net = net.eval().to(self.device)
        self.stride = int(getattr(net, "stride", 1))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            out = self.net(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).to(self.device))
        return generator_output(out).float().cpu().numpy()


class OnnxRunner:
    """Runs an exported ONNX file in ONNX Runtime (CPU, or CUDA when asked and available)."""

    def __init__(self, path: str | Path, device: str = "cpu", threads: int | None = None, stride: int = 16) -> None:
        self.session = open_session(path, device, threads)
        self.input_name = self.session.get_inputs()[0].name
        self.stride = stride

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input_name: np.ascontiguousarray(x, dtype=np.float32)})[0]
