"""Safe loading of weight files into state dicts.

* ``.safetensors``: always allowed (no code can run while loading).
* ``.pt`` / ``.pth`` / ``.ckpt``: ``torch.load(weights_only=True)`` only.
* ``.pkl``: refused unless the caller passes ``allow_pickle=True``; even then it goes through
  :class:`RestrictedUnpickler`, which only rebuilds tensors and plain containers.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch

from ..errors import CheckpointError, first_line

# Globals a tensor-only pickle needs; everything else is refused.
SAFE_GLOBALS: frozenset[tuple[str, str]] = frozenset(
    {
        ("collections", "OrderedDict"),
        ("torch._utils", "_rebuild_tensor_v2"),
        ("torch._utils", "_rebuild_parameter"),
        ("torch", "FloatStorage"),
        ("torch", "HalfStorage"),
        ("torch", "LongStorage"),
        ("torch", "IntStorage"),
        ("torch", "ByteStorage"),
        ("torch", "BoolStorage"),
        ("torch", "BFloat16Storage"),
        ("torch", "float32"),
        ("torch", "float16"),
    }
)


def _storage_from_bytes(data: bytes) -> Any:
    """Plain pickles of tensors embed each storage as a ``torch.save`` blob; torch's own hook
    would load it with full unpickling, so read it with ``weights_only=True`` instead."""
    import io

    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only an allow-list of ``(module, name)`` globals."""

    def __init__(self, file: Any, allowed: Iterable[tuple[str, str]] = SAFE_GLOBALS) -> None:
        super().__init__(file)
        self.allowed = frozenset(allowed)

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("torch.storage", "_load_from_bytes"):
            return _storage_from_bytes  # a nested torch.save blob: load it weights-only
        if (module, name) not in self.allowed:
            raise CheckpointError(f"pickle refers to {module}.{name}, which is not allowed")
        return super().find_class(module, name)


def torch_load(path: str | Path, *, safe_globals: Iterable[Any] = ()) -> Any:
    """``torch.load(path, weights_only=True)`` on the CPU, for every caller in toonforge.

    Torch's warnings (e.g. about pickle protocols) are kept off the terminal, and a refusal is
    re-raised as a one-line :class:`CheckpointError` saying what was refused, without torch's
    advice to retry with ``weights_only=False`` (which would run the file's code).
    """
    import warnings

    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with torch.serialization.safe_globals(list(safe_globals)):
                return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(f"cannot load {path.name}: {refusal_reason(exc, path)}") from None


def refusal_reason(exc: BaseException, path: str | Path | None = None) -> str:
    """Why ``torch.load(weights_only=True)`` refused a file, in one line of toonforge's words."""
    import re

    text = str(exc)
    found = re.search(r"(?:unsupported GLOBAL|Unsupported global: GLOBAL) ([\w.]+)", text)
    if found:
        return (f"unsafe: it pickles {found.group(1)}, which toonforge refuses to load "
                "(a pickle can run code; nothing from the file was run)")
    if "Unsupported operand" in text:
        try:
            with open(path, "rb") as fh:  # type: ignore[arg-type]
                pickled = fh.read(1) == b"\x80"  # the protocol mark a plain pickle starts with
        except (OSError, TypeError):
            pickled = False
        if pickled:
            return ("unsafe: a plain pickle, not a torch checkpoint, which toonforge refuses to unpickle "
                    "(a pickle can run code; nothing from the file was run)")
        return "not a torch checkpoint (unreadable)"
    if "Weights only load failed" in text:
        return ("unsafe: it holds pickled Python objects, which toonforge refuses to load "
                "(a pickle can run code; nothing from the file was run)")
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def load_state_dict_file(path: str | Path, *, allow_pickle: bool = False) -> dict[str, torch.Tensor]:
    """Read a weights file into a flat ``{name: tensor}`` dict on the CPU.

    Raises CheckpointError (one line) for a missing, corrupt or unsafe file.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"weights file not found: {path}")
    suffix = path.suffix.lower()
    try:
        if suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path), device="cpu")
        if suffix in {".pt", ".pth", ".ckpt", ".bin"}:
            data = torch_load(path)
        elif suffix == ".pkl":
            if not allow_pickle:
                raise CheckpointError(
                    f"{path.name} is a pickle, which can run code when loaded, and this command does not read "
                    "pickles; convert it to .safetensors with a tool you trust"
                )
            with path.open("rb") as f:
                data = RestrictedUnpickler(f).load()
        else:
            raise CheckpointError(f"unsupported weights format {suffix!r}: {path.name}")
    except CheckpointError:
        raise
    except Exception as exc:  # noqa: BLE001  (corrupt file, wrong format, unsafe global)
        first = first_line(exc)
        raise CheckpointError(f"cannot load {path.name}: {first}") from None
    if isinstance(data, dict) and "state_dict" in data and isinstance(data["state_dict"], dict):
        data = data["state_dict"]
    if not isinstance(data, dict) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise CheckpointError(f"{path.name} does not hold a flat state dict of tensors")
    return dict(data)


def check_fit(module: torch.nn.Module, state: dict[str, torch.Tensor], what: str) -> None:
    """Raise a one-line CheckpointError unless ``state`` has exactly ``module``'s keys and shapes.

    ``what`` names the source in the message, e.g. "style 'classic' head weights (translator)".
    """
    own = module.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    bad_shape = [k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if not (missing or unexpected or bad_shape):
        return
    parts = []
    if missing:
        parts.append(f"{len(missing)} missing keys (e.g. {missing[0]})")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected keys (e.g. {unexpected[0]})")
    if bad_shape:
        k = bad_shape[0]
        parts.append(
            f"{len(bad_shape)} wrong shapes (e.g. {k}: {tuple(state[k].shape)} vs {tuple(own[k].shape)})"
        )
    raise CheckpointError(f"{what} does not fit the architecture: " + "; ".join(parts))


def load_into(module: torch.nn.Module, state: dict[str, torch.Tensor], what: str) -> None:
    """Load ``state`` into ``module`` strictly, after :func:`check_fit`."""
    check_fit(module, state, what)
    module.load_state_dict(state, strict=True)


def weights_sha256(module: torch.nn.Module) -> str:
    """Hex SHA-256 of ``module``'s state dict: names, dtypes, shapes and raw bytes, in name order.

    Two modules get the same digest exactly when they hold the same tensors, whatever file they
    were loaded from (ONNX exports are stamped with it; StyleGAN sample manifests record it).
    :func:`~toonforge.io.weights_digest.safetensors_digest` computes the same from a file with NumPy.
    """
    from .weights_digest import digest_entries

    def entry(name: str, t: torch.Tensor) -> tuple[str, str, tuple[int, ...], bytes]:
        t = t.detach().cpu().contiguous()
        return name, str(t.dtype), tuple(t.shape), t.reshape(-1).view(torch.uint8).numpy().tobytes()

    return digest_entries(entry(k, v) for k, v in module.state_dict().items())


def read_formatted_safetensors(path: str | Path, fmt: str, what: str
                               ) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """(tensors, header metadata) of a ``.safetensors`` file whose metadata ``format`` is ``fmt``.

    ``what`` names the kind of file in the one-line CheckpointError raised for a missing, damaged
    or other-format file (e.g. "face-swap model")."""
    from safetensors import safe_open

    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"{what} not found: {p}")
    try:
        with safe_open(str(p), framework="pt") as f:
            meta = dict(f.metadata() or {})
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as exc:  # noqa: BLE001  (safetensors raises several types for a damaged file)
        raise CheckpointError(f"{p.name} is not a readable safetensors file ({type(exc).__name__})") from None
    if meta.get("format") != fmt:
        raise CheckpointError(f"{p.name} is not a toonforge {what} (format {meta.get('format')!r})")
    return tensors, meta
