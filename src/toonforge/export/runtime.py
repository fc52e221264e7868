"""Network runners with one calling convention for PyTorch and ONNX Runtime.

A runner maps a float32 array (N, 3, H, W) in [-1, 1] to an array of the same shape and
range. Pre- and post-processing live in ``pipelines.tensors`` and are shared by both, so the
two backends differ only in what executes the network.

This module imports no PyTorch at load time: :class:`OnnxRunner` needs ONNX Runtime only, and
:class:`TorchRunner` imports torch when it is built (the ``train`` extra).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from ..errors import InputError
from .sessions import open_session

if TYPE_CHECKING:
    import torch
    from torch import nn

DIGEST_KEY = "toonforge.weights_sha256"  # ONNX metadata: which weights the graph was exported from
STYLE_INPUT = "style"  # a multi-style graph's second input: (S,) float32 style weights for the batch


class Runner(Protocol):
    """``style``: a multi-style network's (S,) float32 style weights for the batch (None otherwise)."""

    stride: int

    def __call__(self, x: np.ndarray, style: np.ndarray | None = None) -> np.ndarray: ...


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

    def __call__(self, x: np.ndarray, style: np.ndarray | None = None) -> np.ndarray:
        import torch

        from ..models.image_output import generator_output

        with torch.inference_mode():
            inputs = [torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)).to(self.device)
                      for a in (x, style) if a is not None]
            out = self.net(*inputs)
        return generator_output(out).float().cpu().numpy()


class OnnxRunner:
    """Runs an exported ONNX file in ONNX Runtime (CPU, or CUDA when asked and available).

    A multi-style graph (a ``style`` input) is called with the mix; with ``bake`` (the default)
    each mix runs in a session of the graph with that mix baked in as a constant
    (:mod:`.bake_mix`: as fast as a single-style graph; the last ``BAKED_SESSIONS`` mixes are
    kept), else in the graph as it is.
    """

    BAKED_SESSIONS = 8

    def __init__(self, path: str | Path, device: str = "cpu", threads: int | None = None, stride: int = 16,
                 *, bake: bool = True) -> None:
        self.session = open_session(path, device, threads)
        self.path = Path(path)
        self.device, self.threads, self.bake = device, threads, bake
        self._baked: OrderedDict[bytes, object] = OrderedDict()
        self._bake_lock = threading.Lock()
        inputs = [i.name for i in self.session.get_inputs()]
        self.input_name = inputs[0]
        self.style_input = STYLE_INPUT if STYLE_INPUT in inputs[1:] else None  # a multi-style graph's mix
        self.stride = stride

    @property
    def weights_digest(self) -> str | None:
        """The weights digest the graph was stamped with at export (None: unstamped)."""
        return self.session.get_modelmeta().custom_metadata_map.get(DIGEST_KEY)

    def __call__(self, x: np.ndarray, style: np.ndarray | None = None) -> np.ndarray:
        feed = {self.input_name: np.ascontiguousarray(x, dtype=np.float32)}
        if self.style_input is not None:
            if style is None:
                raise InputError(f"{self.path.name} is a multi-style graph: it needs style weights")
            style = np.ascontiguousarray(style, dtype=np.float32)
            if self.bake:
                return self._baked_session(style).run(None, feed)[0]
            feed[self.style_input] = style
        elif style is not None:
            raise InputError(f"{self.path.name} is a single-style graph: it takes no style weights")
        return self.session.run(None, feed)[0]

    def _baked_session(self, style: np.ndarray):
        """The session of the graph with ``style`` baked in (built on first use of that mix)."""
        from .bake_mix import bake_style_input

        key = style.tobytes()
        with self._bake_lock:  # sessions run concurrently; only the cache is guarded
            if key in self._baked:
                self._baked.move_to_end(key)
                return self._baked[key]
            model = bake_style_input(self.path.read_bytes(), style, self.style_input)
            session = open_session(self.path, self.device, self.threads, model=model)
            self._baked[key] = session
            while len(self._baked) > self.BAKED_SESSIONS:
                self._baked.popitem(last=False)
            return session
