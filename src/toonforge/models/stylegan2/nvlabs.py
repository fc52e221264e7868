"""Convert NVlabs StyleGAN2-ADA-PyTorch (and StyleGAN3-repo StyleGAN2) ``.pkl`` snapshots, without running them.

Those pickles store every network through ``torch_utils.persistence``: each module is rebuilt by
``_reconstruct_persistent_obj(meta)``, where ``meta`` carries the module's *source code*, its class
name and its ``__dict__`` (``_parameters``, ``_buffers``, ``_modules`` and plain attributes such as
``z_dim``). Unpickling normally executes that source. Here a restricted unpickler maps the
reconstruct function to a stand-in that only keeps the class name and the state, rebuilds tensors
through torch's weights-only path, and refuses every other global (``os.system``, ``builtins.eval``,
...). The collected module tree is flattened to NVlabs keys (``mapping.fc0.weight``,
``synthesis.b4.const``, ...) and renamed to the rosinality layout that :class:`Generator` and
:class:`Discriminator` use. TensorFlow pickles and StyleGAN3 (alias-free) generators are refused.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ...errors import CheckpointError, InputError
from ...io.checkpoints import SAFE_GLOBALS, RestrictedUnpickler


class PersistentStub:
    """What a ``torch_utils.persistence`` object becomes: its class name and ``__dict__``, no code."""

    def __init__(self, class_name: str, state: dict[str, Any]) -> None:
        self.class_name = class_name
        self.state = state

    def attr(self, name: str, default: Any = None) -> Any:
        return self.state.get(name, default)


class _EasyDict(dict):
    """Stand-in for ``dnnlib.util.EasyDict``: a plain dict (kwargs of the training run)."""


def _reconstruct_stub(meta: Any) -> PersistentStub:
    if not isinstance(meta, dict) or meta.get("type") != "class" or not isinstance(meta.get("state"), dict):
        raise CheckpointError("pickle holds a persistent object in an unknown format")
    return PersistentStub(str(meta.get("class_name")), meta["state"])


def _numpy_scalar(dtype: Any, data: Any = None) -> Any:
    if not isinstance(dtype, np.dtype) or dtype.hasobject or not isinstance(data, bytes):
        raise CheckpointError("pickle holds a numpy object scalar, which is not allowed")
    return np.frombuffer(data, dtype=dtype)[0].item()


def _codecs_encode(text: Any, encoding: str = "utf-8") -> bytes:
    if not isinstance(text, str) or encoding.replace("-", "").lower() not in ("latin1", "utf8"):
        raise CheckpointError("pickle uses _codecs.encode in an unexpected way")
    return text.encode(encoding)


def _rebuild_parameter_with_state(data: torch.Tensor, requires_grad: bool, hooks: Any, state: Any) -> torch.Tensor:
    return torch.nn.Parameter(data, requires_grad=requires_grad)  # extra Python attributes are dropped


_STAND_INS: dict[tuple[str, str], Any] = {
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _reconstruct_stub,
    ("dnnlib.util", "EasyDict"): _EasyDict,
    ("dnnlib", "EasyDict"): _EasyDict,
    ("numpy.core.multiarray", "scalar"): _numpy_scalar,
    ("numpy._core.multiarray", "scalar"): _numpy_scalar,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): _codecs_encode,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter_with_state,
    ("builtins", "set"): set,
    ("__builtin__", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("__builtin__", "frozenset"): frozenset,
}


class NVlabsUnpickler(RestrictedUnpickler):
    """Tensors, plain containers and data-only stand-ins for the NVlabs helper classes; nothing else."""

    def __init__(self, file: Any) -> None:
        super().__init__(file, SAFE_GLOBALS)

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _STAND_INS:
            return _STAND_INS[module, name]
        if module.startswith("dnnlib.tflib"):
            raise CheckpointError("this is a TensorFlow StyleGAN pickle; convert it with NVlabs' legacy.py first")
        return super().find_class(module, name)


def load_nvlabs_pickle(path: str | Path, *, allow_pickle: bool) -> Any:
    """Unpickle ``path`` with :class:`NVlabsUnpickler` (no code from the file runs). Needs ``allow_pickle``."""
    path = Path(path)
    if not allow_pickle:
        raise InputError(
            f"{path.name} is a pickle, which can run code when loaded, and this command does not read "
            "pickles; convert it to .safetensors with a tool you trust"
        )
    if not path.is_file():
        raise CheckpointError(f"weights file not found: {path}")
    try:
        with path.open("rb") as f:
            return NVlabsUnpickler(f).load()
    except CheckpointError:
        raise
    except Exception as exc:  # noqa: BLE001  (corrupt or truncated pickle)
        text = str(exc).strip().splitlines()
        raise CheckpointError(f"cannot load {path.name}: {text[0] if text else type(exc).__name__}") from None


def flatten_stub(obj: PersistentStub, prefix: str = "") -> dict[str, torch.Tensor]:
    """NVlabs state dict (``name.sub.param`` -> tensor) of a collected module tree."""
    out: dict[str, torch.Tensor] = {}
    skip = obj.attr("_non_persistent_buffers_set") or set()
    for group in ("_parameters", "_buffers"):
        for name, t in (obj.attr(group) or {}).items():
            if isinstance(t, torch.Tensor) and not (group == "_buffers" and name in skip):
                out[prefix + name] = t.detach()
    for name, child in (obj.attr("_modules") or {}).items():
        if isinstance(child, PersistentStub):
            out.update(flatten_stub(child, f"{prefix}{name}."))
        elif child is not None:
            raise CheckpointError(f"unexpected module {type(child).__name__} at {prefix}{name} in the pickle")
    return out


def _own(t: torch.Tensor, shape: tuple[int, ...] | None = None) -> torch.Tensor:
    t = t.detach().float()
    return (t.reshape(shape) if shape is not None else t).contiguous().clone()


def _layer(nv: dict, src: str, dst: str, noise_dst: str | None, out: dict) -> None:
    """One SynthesisLayer (``src``) -> one StyledConv (``dst``), its noise map -> ``noise_dst``."""
    w = nv[f"{src}.weight"]
    out[f"{dst}.conv.weight"] = _own(w, (1, *w.shape))
    out[f"{dst}.conv.modulation.weight"] = _own(nv[f"{src}.affine.weight"])
    out[f"{dst}.conv.modulation.bias"] = _own(nv[f"{src}.affine.bias"])
    out[f"{dst}.noise.weight"] = _own(nv[f"{src}.noise_strength"], (1,))
    out[f"{dst}.activate.bias"] = _own(nv[f"{src}.bias"])
    if noise_dst is not None and f"{src}.noise_const" in nv:
        r = nv[f"{src}.noise_const"].shape[-1]
        out[noise_dst] = _own(nv[f"{src}.noise_const"], (1, 1, r, r))


def _torgb(nv: dict, src: str, dst: str, out: dict) -> None:
    w = nv[f"{src}.weight"]
    if w.shape[0] != 3:
        raise CheckpointError(f"only RGB generators are supported ({src} has {w.shape[0]} channels)")
    out[f"{dst}.conv.weight"] = _own(w, (1, *w.shape))
    out[f"{dst}.conv.modulation.weight"] = _own(nv[f"{src}.affine.weight"])
    out[f"{dst}.conv.modulation.bias"] = _own(nv[f"{src}.affine.bias"])
    out[f"{dst}.bias"] = _own(nv[f"{src}.bias"], (1, 3, 1, 1))


def _resolutions(nv: dict, pattern: str) -> list[int]:
    rx = re.compile(pattern)
    return sorted({int(m.group(1)) for k in nv if (m := rx.match(k))})


def convert_generator(G: PersistentStub) -> tuple[dict[str, torch.Tensor], torch.Tensor | None]:
    """NVlabs StyleGAN2 generator -> (rosinality state dict, w_avg (1, w_dim) or None)."""
    nv = flatten_stub(G)
    if any(k.startswith("synthesis.input.") for k in nv):
        raise CheckpointError("StyleGAN3 (alias-free) generators are not supported; only StyleGAN2 ones")
    if "synthesis.b4.const" not in nv:
        raise CheckpointError(f"{G.class_name} in the pickle is not a StyleGAN2 generator (no synthesis.b4.const)")
    if any(k.startswith("mapping.embed.") for k in nv):
        raise CheckpointError("class-conditional generators are not supported")
    mapping = G.attr("_modules", {}).get("mapping")
    fcs = _resolutions(nv, r"mapping\.fc(\d+)\.weight")
    for i in fcs:
        lr = mapping.attr("_modules", {})[f"fc{i}"].attr("lr_multiplier", 0.01) if mapping else 0.01
        if abs(float(lr) - 0.01) > 1e-9:
            raise CheckpointError(f"mapping lr multiplier {lr} is not supported (expected 0.01)")
    out: dict[str, torch.Tensor] = {}
    for i in fcs:
        if nv[f"mapping.fc{i}.weight"].shape[0] != nv[f"mapping.fc{i}.weight"].shape[1]:
            raise CheckpointError("mapping layers must be square (z_dim == w_dim)")
        out[f"style.{i + 1}.weight"] = _own(nv[f"mapping.fc{i}.weight"])
        out[f"style.{i + 1}.bias"] = _own(nv[f"mapping.fc{i}.bias"])
    const = nv["synthesis.b4.const"]
    out["input.input"] = _own(const, (1, *const.shape))
    _layer(nv, "synthesis.b4.conv1", "conv1", "noises.noise_0", out)
    _torgb(nv, "synthesis.b4.torgb", "to_rgb1", out)
    for k, res in enumerate(r for r in _resolutions(nv, r"synthesis\.b(\d+)\.") if r > 4):
        if res != 2 ** (k + 3) or f"synthesis.b{res}.torgb.weight" not in nv:
            raise CheckpointError(f"synthesis block b{res} does not fit the StyleGAN2 'skip' architecture")
        if f"synthesis.b{res}.skip.weight" in nv:
            raise CheckpointError("'resnet' generator architecture is not supported (only 'skip')")
        _layer(nv, f"synthesis.b{res}.conv0", f"convs.{2 * k}", f"noises.noise_{2 * k + 1}", out)
        _layer(nv, f"synthesis.b{res}.conv1", f"convs.{2 * k + 1}", f"noises.noise_{2 * k + 2}", out)
        _torgb(nv, f"synthesis.b{res}.torgb", f"to_rgbs.{k}", out)
        filt = nv.get(f"synthesis.b{res}.resample_filter")
        if filt is not None:
            out[f"convs.{2 * k}.conv.blur.kernel"] = _own(filt * 4)
            out[f"to_rgbs.{k}.upsample.kernel"] = _own(filt * 4)
    w_avg = nv.get("mapping.w_avg")
    return out, (None if w_avg is None else _own(w_avg, (1, -1)))


def convert_discriminator(D: PersistentStub) -> dict[str, torch.Tensor]:
    """NVlabs StyleGAN2 'resnet' discriminator -> rosinality state dict."""
    nv = flatten_stub(D)
    if any(k.startswith("mapping.") for k in nv) or nv.get("b4.out.weight", torch.zeros(1, 1)).shape[0] != 1:
        raise CheckpointError("class-conditional discriminators are not supported")
    blocks = [r for r in _resolutions(nv, r"b(\d+)\.") if r > 4][::-1]
    if not blocks or "b4.conv.weight" not in nv:
        raise CheckpointError(f"{D.class_name} in the pickle is not a StyleGAN2 discriminator")
    top = blocks[0]
    mbstd = D.attr("_modules", {}).get("b4")
    mbstd = mbstd.attr("_modules", {}).get("mbstd") if mbstd else None
    if mbstd is not None and int(mbstd.attr("num_channels", 1)) != 1:
        raise CheckpointError("minibatch-stddev with more than one channel is not supported")
    out = {"convs.0.0.weight": _own(nv[f"b{top}.fromrgb.weight"]), "convs.0.1.bias": _own(nv[f"b{top}.fromrgb.bias"])}
    for i, res in enumerate(blocks, start=1):
        if res != top // 2 ** (i - 1) or f"b{res}.skip.weight" not in nv or (i > 1 and f"b{res}.fromrgb.weight" in nv):
            raise CheckpointError(f"discriminator block b{res} does not fit the StyleGAN2 'resnet' architecture")
        out[f"convs.{i}.conv1.0.weight"] = _own(nv[f"b{res}.conv0.weight"])
        out[f"convs.{i}.conv1.1.bias"] = _own(nv[f"b{res}.conv0.bias"])
        out[f"convs.{i}.conv2.1.weight"] = _own(nv[f"b{res}.conv1.weight"])
        out[f"convs.{i}.conv2.2.bias"] = _own(nv[f"b{res}.conv1.bias"])
        out[f"convs.{i}.skip.1.weight"] = _own(nv[f"b{res}.skip.weight"])
        filt = nv.get(f"b{res}.resample_filter")
        if filt is not None:
            out[f"convs.{i}.conv2.0.kernel"] = _own(filt)
            out[f"convs.{i}.skip.0.kernel"] = _own(filt)
    for src, dst in (("b4.conv", "final_conv"), ("b4.fc", "final_linear.0"), ("b4.out", "final_linear.1")):
        out[f"{dst}.0.weight" if dst == "final_conv" else f"{dst}.weight"] = _own(nv[f"{src}.weight"])
        out[f"{dst}.1.bias" if dst == "final_conv" else f"{dst}.bias"] = _own(nv[f"{src}.bias"])
    return out


def convert_nvlabs_pkl(path: str | Path, *, allow_pickle: bool) -> dict[str, Any]:
    """Read an NVlabs snapshot safely and return rosinality-layout weights.

    Returns ``{"g_ema": state, "latent_avg": (1, w_dim)}`` plus ``"g"`` and ``"d"`` when the snapshot
    holds them; ``g_ema`` falls back to ``G`` when there is no ``G_ema``. Raises InputError without
    ``allow_pickle`` and a one-line CheckpointError for unsafe or unsupported content.
    """
    data = load_nvlabs_pickle(path, allow_pickle=allow_pickle)
    if isinstance(data, PersistentStub):
        data = {"G_ema": data}
    if not isinstance(data, dict) or not any(isinstance(data.get(k), PersistentStub) for k in ("G_ema", "G", "D")):
        raise CheckpointError(f"{Path(path).name} holds no NVlabs networks (expected G_ema / G / D)")
    out: dict[str, Any] = {}
    for src, dst in (("G_ema", "g_ema"), ("G", "g")):
        if isinstance(data.get(src), PersistentStub):
            out[dst], w_avg = convert_generator(data[src])
            if w_avg is not None and "latent_avg" not in out:
                out["latent_avg"] = w_avg
    if "g_ema" not in out and "g" in out:
        out["g_ema"] = out["g"]
    if isinstance(data.get("D"), PersistentStub):
        out["d"] = convert_discriminator(data["D"])
    return out
