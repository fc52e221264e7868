"""Load and save StyleGAN2 weights in the rosinality layout, inferring the architecture from the keys.

Accepted files:

* ``.pt`` / ``.pth`` / ``.ckpt``: a dict with ``g_ema`` / ``g`` / ``d`` state dicts (plus e.g.
  ``latent_avg``, optimizer states, an ``argparse.Namespace`` of training args), or a flat state
  dict. Always read with ``torch.load(weights_only=True)``; only ``argparse.Namespace`` is added to
  torch's allow-list, so nothing in the file can run code.
* ``.safetensors``: a flat state dict, optionally with ``latent_avg`` and the model config in the
  metadata (what :func:`save_generator` writes).
* ``.pkl``: NVlabs StyleGAN2-ADA / StyleGAN3-repo snapshots, only with ``allow_pickle=True`` and then
  only through the restricted converter in :mod:`.nvlabs`.

Architecture inference (when the file has no config): ``size = 2 ** (2 + number of to_rgbs.{i})``,
``style_dim`` from ``conv1.conv.modulation.weight`` (its input width), ``n_mlp`` from the count of
``style.{i}.weight``, the channel width per resolution from the conv weights, ``channel_max`` as
the widest layer, and ``channel_multiplier`` as the first of 2, 1, 4, 8 whose table reproduces those
widths (for sizes <= 32 every multiplier gives the same network, so 2 is reported). ``lr_mlp`` (0.01)
and the blur kernel cannot be read from weights; the blur taps are loaded from the file anyway.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

import torch

from ...errors import CheckpointError, first_line
from ...io.checkpoints import check_fit, torch_load
from ..model_file import parse_model_meta, save_model
from .discriminator import Discriminator
from .generator import Generator, channel_table

_MULTIPLIERS = (2, 1, 4, 8)


def read_checkpoint(path: str | Path, *, allow_pickle: bool = False) -> tuple[dict[str, Any], dict[str, str]]:
    """Read a weights file safely: returns (content dict, safetensors metadata or {}).

    The content is either a flat ``{key: tensor}`` state dict or a dict of such (``g_ema``, ``d``...).
    Raises a one-line CheckpointError for a missing, corrupt, unsafe or unsupported file.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"weights file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".pkl":
        from .nvlabs import convert_nvlabs_pkl

        return convert_nvlabs_pkl(path, allow_pickle=allow_pickle), {}
    try:
        if suffix == ".safetensors":
            from safetensors import safe_open

            with safe_open(str(path), framework="pt", device="cpu") as f:
                meta = dict(f.metadata() or {})
                return {k: f.get_tensor(k) for k in f.keys()}, meta
        if suffix in {".pt", ".pth", ".ckpt", ".bin"}:
            data = torch_load(path, safe_globals=[argparse.Namespace])
        else:
            raise CheckpointError(f"unsupported weights format {suffix!r}: {path.name}")
    except CheckpointError:
        raise
    except Exception as exc:  # noqa: BLE001  (corrupt file, or a global outside the allow-list)
        raise CheckpointError(f"cannot load {path.name}: {first_line(exc)}") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{path.name} holds a {type(data).__name__}, not a dict of weights")
    return data, {}


def _is_state(d: Any) -> bool:
    return isinstance(d, dict) and bool(d) and all(isinstance(v, torch.Tensor) for v in d.values())


def _select(data: dict[str, Any], key: str, name: str, marker: str, kind: str) -> dict[str, torch.Tensor]:
    """Pick sub-dict ``key`` (or the flat state dict itself when it has ``marker``), minus a DDP prefix."""
    if isinstance(data.get(key), dict):
        state = data[key]
    elif marker in data or f"module.{marker}" in data:
        state = {k: v for k, v in data.items() if k != "latent_avg"}
    else:
        subs = [k for k, v in data.items() if isinstance(v, dict)]
        if not subs:
            raise CheckpointError(f"{name} is a state dict without {marker!r}, so not a StyleGAN2 {kind}")
        raise CheckpointError(f"{name} has no {key!r} weights (it holds: {', '.join(subs)})")
    if not _is_state(state):
        raise CheckpointError(f"{name} [{key!r}] is not a state dict of tensors")
    if all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    return dict(state)


def _indices(state: dict[str, torch.Tensor], pattern: str) -> list[int]:
    rx = re.compile(pattern)
    return sorted({int(m.group(1)) for k in state if (m := rx.fullmatch(k))})


def _match_table(size: int, widths: dict[int, int], name: str) -> tuple[int, int]:
    channel_max = max(widths.values())
    for mult in _MULTIPLIERS:
        if channel_table(size, mult, channel_max) == widths:
            return mult, channel_max
    raise CheckpointError(f"{name}: channel widths {widths} do not follow the StyleGAN2 table")


def infer_generator_config(state: dict[str, torch.Tensor], name: str = "checkpoint") -> dict[str, Any]:
    """Generator constructor arguments from rosinality-layout keys (see the module docstring)."""
    for k in ("input.input", "conv1.conv.weight", "to_rgb1.conv.weight", "conv1.conv.modulation.weight"):
        if k not in state:
            raise CheckpointError(f"{name} is not a StyleGAN2 generator (no {k!r})")
    n_rgb = len(_indices(state, r"to_rgbs\.(\d+)\.conv\.weight"))
    size = 2 ** (n_rgb + 2)
    if not 8 <= size <= 1024:
        raise CheckpointError(f"{name}: unsupported generator size {size} px ({n_rgb} RGB layers)")
    mlp = _indices(state, r"style\.(\d+)\.weight")
    if mlp != list(range(1, len(mlp) + 1)):
        raise CheckpointError(f"{name}: mapping layers style.{mlp} are not numbered 1..n")
    widths = {4: int(state["input.input"].shape[1])}
    for k in range(n_rgb):
        w = state.get(f"convs.{2 * k}.conv.weight")
        if w is None or w.ndim != 5:
            raise CheckpointError(f"{name}: missing or malformed convs.{2 * k}.conv.weight")
        widths[2 ** (k + 3)] = int(w.shape[1])
    mult, channel_max = _match_table(size, widths, name)
    return {
        "size": size, "style_dim": int(state["conv1.conv.modulation.weight"].shape[1]), "n_mlp": len(mlp),
        "channel_multiplier": mult, "channel_max": channel_max,
    }


def infer_discriminator_config(state: dict[str, torch.Tensor], name: str = "checkpoint") -> dict[str, Any]:
    """Discriminator constructor arguments from rosinality-layout keys."""
    for k in ("convs.0.0.weight", "final_conv.0.weight", "final_linear.0.weight"):
        if k not in state:
            raise CheckpointError(f"{name} is not a StyleGAN2 discriminator (no {k!r})")
    blocks = _indices(state, r"convs\.(\d+)\.conv1\.0\.weight")
    if blocks != list(range(1, len(blocks) + 1)):
        raise CheckpointError(f"{name}: residual blocks convs.{blocks} are not numbered 1..n")
    size = 2 ** (len(blocks) + 2)
    if not 8 <= size <= 1024:
        raise CheckpointError(f"{name}: unsupported discriminator size {size} px")
    widths = {size: int(state["convs.0.0.weight"].shape[0])}
    for i in blocks:  # block i maps size / 2**(i-1) px to size / 2**i px
        w = state.get(f"convs.{i}.conv2.1.weight")
        if w is None or w.ndim != 4:
            raise CheckpointError(f"{name}: missing or malformed convs.{i}.conv2.1.weight")
        widths[size // 2**i] = int(w.shape[0])
    mult, channel_max = _match_table(size, dict(sorted(widths.items())), name)
    return {"size": size, "channel_multiplier": mult, "channel_max": channel_max}


def _fill_fixed_buffers(module: torch.nn.Module, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Older files lack the blur kernels and stored noise maps; take those from the fresh module."""
    state = dict(state)
    for k, v in module.state_dict().items():
        if k not in state and (k.endswith(".kernel") or k.startswith("noises.")):
            state[k] = v
    return state


def _settings(data: dict[str, Any], key: str) -> dict[str, Any]:
    """Constructor arguments a converted NVlabs snapshot carries beside the weights (``conv_clamp``,
    ``stddev_group``); {} for other files."""
    settings = data.get("settings")
    found = settings.get(key) if isinstance(settings, dict) else None
    return {k: v for k, v in found.items() if k != "conv_clamp" or v is not None} if isinstance(found, dict) else {}


def _config_from_meta(meta: dict[str, str], model: str, what: str) -> dict[str, Any] | None:
    """The config a model file records for ``model`` (None for a plain state dict or another model)."""
    found = parse_model_meta(meta, what)
    return dict(found.config) if found is not None and found.model == model else None


def _build(cls: type, model: str, config: dict[str, Any], state: dict[str, torch.Tensor], what: str):
    try:
        net = cls(**config)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{what}: bad {model} config: {first_line(exc)}") from None
    state = _fill_fixed_buffers(net, state)
    check_fit(net, state, what)
    net.load_state_dict(state, strict=True)
    return net.eval()


def load_generator(path: str | Path, *, key: str = "g_ema", allow_pickle: bool = False) -> Generator:
    """Build a :class:`Generator` from a rosinality ``.pt``, a safetensors file, or (with
    ``allow_pickle``) an NVlabs ``.pkl``. ``key`` picks ``g_ema`` (default) or ``g`` from a dict file.

    Returns the generator in eval mode on the CPU, with ``latent_avg`` set when the file has one.
    Raises a one-line CheckpointError for unsafe files and files of another architecture.
    """
    path = Path(path)
    data, meta = read_checkpoint(path, allow_pickle=allow_pickle)
    state = _select(data, key, path.name, "input.input", "generator")
    what = f"{path.name} [{key}]"
    config = _config_from_meta(meta, "stylegan2_generator", what) or infer_generator_config(state, what)
    config.update(_settings(data, key))
    latent_avg = data.get("latent_avg")
    G = _build(Generator, "stylegan2_generator", config, state, what)
    if isinstance(latent_avg, torch.Tensor):
        if latent_avg.numel() != G.style_dim:
            raise CheckpointError(f"{what}: latent_avg has {latent_avg.numel()} values, expected {G.style_dim}")
        G.latent_avg = latent_avg.detach().float().reshape(1, G.style_dim)
    return G


def load_discriminator(path: str | Path, *, key: str = "d", allow_pickle: bool = False) -> Discriminator:
    """Build a :class:`Discriminator` from the ``d`` weights of a file (see :func:`load_generator`)."""
    path = Path(path)
    data, meta = read_checkpoint(path, allow_pickle=allow_pickle)
    state = _select(data, key, path.name, "final_conv.0.weight", "discriminator")
    what = f"{path.name} [{key}]"
    config = _config_from_meta(meta, "stylegan2_discriminator", what) or infer_discriminator_config(state, what)
    config.update(_settings(data, key))
    return _build(Discriminator, "stylegan2_discriminator", config, state, what)


def save_generator(path: str | Path, G: Generator, info: dict | None = None) -> Path:
    """Write G's state dict (rosinality keys, plus ``latent_avg`` when set) and config as a model file;
    ``info``: free-form facts for its header (e.g. an Info-StyleGAN's code count)."""
    extra = {"latent_avg": G.latent_avg.reshape(1, -1)} if G.latent_avg is not None else {}
    return save_model(path, G, info, extra=extra)


def save_discriminator(path: str | Path, D: Discriminator) -> Path:
    """Write D's state dict (rosinality keys) and config as safetensors."""
    return save_model(path, D)
