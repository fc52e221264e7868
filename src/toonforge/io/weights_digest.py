"""One digest of a set of named tensors, computable from PyTorch modules or from NumPy arrays.

The digest identifies weights by content (names, dtypes, shapes and raw bytes, in name order),
whatever file they came from. ONNX exports are stamped with it, so the runtime can check with
NumPy alone (``safetensors.numpy``) that a style's shipped graph was exported from the weights
in its ``model.safetensors``, without PyTorch installed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from ..errors import CheckpointError, first_line

__all__ = ["digest_entries", "safetensors_digest"]


def digest_entries(entries: Iterable[tuple[str, str, tuple[int, ...], bytes]]) -> str:
    """Hex SHA-256 over ``(name, dtype name, shape, raw little-endian bytes)`` entries, sorted by name.

    The dtype name is PyTorch's spelling (``"torch.float32"``) so digests made from modules and
    from arrays agree.
    """
    h = hashlib.sha256()
    for name, dtype, shape, data in sorted(entries, key=lambda e: e[0]):
        h.update(f"{name}|{dtype}|{tuple(int(s) for s in shape)}|".encode())
        h.update(data)
    return h.hexdigest()


def _numpy_entry(name: str, a: np.ndarray) -> tuple[str, str, tuple[int, ...], bytes]:
    a = np.asarray(a, order="C")  # (ascontiguousarray would make a 0-d array 1-d)
    if a.dtype.byteorder == ">":  # safetensors is little-endian; keep the bytes as stored
        a = a.astype(a.dtype.newbyteorder("<"))
    return name, f"torch.{a.dtype.name}", tuple(a.shape), a.tobytes()


def safetensors_digest(path: str | Path, prefix: str = "") -> str:
    """The digest of the tensors under ``prefix`` in a safetensors file, prefix stripped, via NumPy.

    Equals :func:`toonforge.io.checkpoints.weights_sha256` of a module loaded strictly from
    those tensors. Raises CheckpointError for a missing or unreadable file (or a dtype NumPy
    lacks, such as bfloat16).
    """
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"weights file not found: {path}")
    try:  # safe_open keeps 0-d tensors 0-d (a BatchNorm's step count), as torch does
        with safe_open(str(path), framework="numpy") as f:
            entries = [_numpy_entry(k[len(prefix):], f.get_tensor(k)) for k in f.keys() if k.startswith(prefix)]
    except Exception as exc:  # noqa: BLE001  (corrupt header, unknown dtype)
        first = first_line(exc)
        raise CheckpointError(f"cannot read {path.name}: {first}") from None
    return digest_entries(entries)
