"""Export a network to ONNX with dynamic batch/height/width, and check it against PyTorch."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..errors import InputError
from ..io.checkpoints import weights_sha256
from ..io.files import atomic_output
from .runtime import DIGEST_KEY, STYLE_INPUT  # defined beside the runtime, which reads them without torch

OPSET = 17
INPUT_NAME, OUTPUT_NAME = "image", "stylized"


def read_weights_digest(path: str | Path) -> str | None:
    """The weights digest an ONNX file was stamped with at export, or None (unstamped or unreadable)."""
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception:  # unreadable: the runner that opens it reports why
        return None
    return next((p.value for p in model.metadata_props if p.key == DIGEST_KEY), None)


def _stamp(path: Path, digest: str) -> None:
    import onnx

    model = onnx.load(str(path))
    del model.metadata_props[:]
    model.metadata_props.add(key=DIGEST_KEY, value=digest)
    onnx.save(model, str(path))


@dataclass
class ParityReport:
    """Largest absolute difference between PyTorch and ONNX Runtime outputs per test size."""

    max_abs_diff: dict[str, float]
    tolerance: float

    @property
    def ok(self) -> bool:
        return all(v <= self.tolerance for v in self.max_abs_diff.values())


def export_onnx(net: nn.Module, path: str | Path, *, sample_size: int = 256, overwrite: bool = False) -> Path:
    """Write ``net`` (input (N,3,H,W) in [-1,1]) to ``path`` with dynamic N, H and W.

    A multi-style translator (a ``styles`` list of S names) gets a second input ``style``: (S,)
    float32 weights, the mix for the whole batch.

    Uses the TorchScript-based exporter (no onnxscript dependency); the file is written to a
    temp name and renamed, so a failed export never leaves a half-written model. The file's
    metadata records :func:`~toonforge.io.checkpoints.weights_sha256` of ``net`` under ``toonforge.weights_sha256``.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise InputError(f"{path} already exists; pass --overwrite to replace it")
    net = net.eval().cpu()
    x = torch.zeros(1, 3, sample_size, sample_size)
    n_styles = len(getattr(net, "styles", ()))
    args = (x, torch.full((n_styles,), 1.0 / n_styles)) if n_styles else (x,)
    with atomic_output(path) as tmp, warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            net, args, str(tmp), dynamo=False, opset_version=OPSET,
            input_names=[INPUT_NAME, STYLE_INPUT][:len(args)], output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: {0: "batch", 2: "height", 3: "width"},
                          OUTPUT_NAME: {0: "batch", 2: "height", 3: "width"}},
        )
        _stamp(tmp, weights_sha256(net))
    return path


def check_parity(
    net: nn.Module,
    onnx_path: str | Path,
    sizes: tuple[tuple[int, int], ...] = ((256, 256), (320, 192)),
    tolerance: float = 1e-3,
    seed: int = 0,
) -> ParityReport:
    """Run the same random inputs (in [-1, 1]) through ``net`` and the ONNX file.

    Returns the max abs difference per size; ``report.ok`` says whether all are within
    ``tolerance``. Sizes must be multiples of the network's stride. A multi-style translator is
    checked at every size with each one-hot style, the even mix and a random mix (keys
    ``HxW/mix``).
    """
    from .runtime import OnnxRunner

    runner = OnnxRunner(onnx_path, threads=1, bake=False)  # the graph as shipped, style as an input
    g = torch.Generator().manual_seed(seed)
    diffs: dict[str, float] = {}
    net = net.eval().cpu()
    mixes = parity_mixes(len(getattr(net, "styles", ())), g)
    for h, w in sizes:
        x = torch.rand(1, 3, h, w, generator=g) * 2 - 1
        for label, mix in mixes.items():
            with torch.no_grad():
                ref = (net(x) if mix is None else net(x, mix)).numpy()
            out = runner(x.numpy()) if mix is None else runner(x.numpy(), mix.numpy())
            diffs[f"{h}x{w}{label}"] = float(np.abs(ref - out).max())
    return ParityReport(diffs, tolerance)


def parity_mixes(n_styles: int, g: torch.Generator) -> dict[str, torch.Tensor | None]:
    """The style mixes a parity check runs: {"": None} for a single-style network, else every
    one-hot (S,) vector, the even mix and one random convex mix, keyed "/one-hot-i", "/even", "/random"."""
    if not n_styles:
        return {"": None}
    eye = torch.eye(n_styles)
    mixes: dict[str, torch.Tensor | None] = {f"/one-hot-{i}": eye[i] for i in range(n_styles)}
    mixes["/even"] = torch.full((n_styles,), 1.0 / n_styles)
    r = torch.rand(n_styles, generator=g) + 0.05
    mixes["/random"] = r / r.sum()
    return mixes
