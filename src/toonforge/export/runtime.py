"""Network runners with one calling convention for PyTorch and ONNX Runtime.

A runner maps a float32 array (N, 3, H, W) in [-1, 1] to an array of the same shape and
range. Pre- and post-processing live in ``pipelines.tensors`` and are shared by both, so the
two backends differ only in what executes the network.

This module imports no PyTorch at load time: :class:`OnnxRunner` needs ONNX Runtime only, and
:class:`TorchRunner` imports torch when it is built (the ``train`` extra).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from ..errors import InputError
from .sessions import open_session

if TYPE_CHECKING:
    import torch
    from torch import nn

DIGEST_KEY = "toonforge.weights_sha256"  # ONNX metadata: which weights the graph was exported from


class Runner(Protocol):
    stride: int

    def __call__(self, x: np.ndarray) -> np.ndarray: ...


def resolve_device(device: str) -> torch.device:
    """'cpu', 'cuda' or 'cuda:N' -> torch.device; InputError when CUDA is not available."""
    import torch

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
        import torch

        from ..models.image_output import generator_output

        with torch.inference_mode():
            out = self.net(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).to(self.device))
        return generator_output(out).float().cpu().numpy()


class OnnxRunner:
    """Runs an exported ONNX file in ONNX Runtime (CPU, or CUDA when asked and available)."""

    def __init__(self, path: str | Path, device: str = "cpu", threads: int | None = None, stride: int = 16) -> None:
        self.session = open_session(path, device, threads)
        self.path = Path(path)
        self.input_name = self.session.get_inputs()[0].name
        self.stride = stride

    @property
    def weights_digest(self) -> str | None:
        """The weights digest the graph was stamped with at export (None: unstamped)."""
        return self.session.get_modelmeta().custom_metadata_map.get(DIGEST_KEY)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input_name: np.ascontiguousarray(x, dtype=np.float32)})[0]
