"""Turn a finished translator run into a style folder (weights, config, card, ONNX)."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..export.onnx_export import check_parity, export_onnx
from ..styles.multi import MULTI_MODEL, StyleEntry, parse_entries, settings_from_style
from ..styles.registry import load_style
from ..styles.style import NetSpec, StyleConfig, save_style


def _read_stats(run_dir: Path) -> list[dict]:
    f = run_dir / "stats.jsonl"
    if not f.is_file():
        return []
    return [json.loads(line) for line in f.read_text().splitlines() if line.strip()]


def write_translator_style(task, result, out: Path, *, name: str, head_resolution: int = 256,
                           full_resolution: int = 512, description: str = "",
                           data_note: str = "") -> Path:
    """Write the EMA generator of a finished ``TranslatorTask`` run as a style folder.

    The card records the data folders and pair counts, steps, wall time, the last training
    losses and the held-out L1; ``head.onnx`` is exported and checked (max abs diff <= 1e-3).
    """
    net = task.generator().cpu().eval()
    cfg = task.cfg
    config = StyleConfig(
        name=name, kind="network", description=description or f"translator/{cfg.tier} trained on pairs",
        head=NetSpec("translator", dict(net.config), head_resolution), full=None,
        full_resolution=full_resolution,
    )
    stats = _read_stats(result.run_dir)
    hours = (stats[-1].get("time", 0.0) / 3600.0) if stats else 0.0
    val = task.evaluate(result.step).get("val/l1")
    batch = json.loads((result.run_dir / "config.json").read_text())["loop"]["batch_size"]
    val_line = f"{val:.4f}" if val is not None else "n/a"
    last = {k: v for k, v in (stats[-1] if stats else {}).items() if k.startswith("loss/")}
    lines = [
        f"# {name}",
        "",
        description or f"A lightweight translator ({cfg.tier} tier) trained on paired images.",
        "",
        "## Training",
        f"- Inputs: `{cfg.inputs}`; targets: `{cfg.targets}`.",
        f"- Pairs: {len(task.train_names)} for training, {len(task.val_names)} held out "
        f"(deterministic split by name hash, {cfg.val_fraction:.0%}).",
        f"- {result.step} steps, batch {batch} per process, {cfg.size}x{cfg.size} crops, wall time {hours:.2f} h.",
        f"- Losses: pixel x{cfg.w_pixel}, perceptual (MobileNetV2) x{cfg.w_perceptual}, "
        f"GAN ({cfg.gan_kind}) x{cfg.w_gan} from step {cfg.gan_start}, "
        f"edge-promoting {'on' if cfg.edge_promoting else 'off'}.",
        f"- Last logged training losses: {', '.join(f'{k} {v:.4f}' for k, v in last.items()) or 'n/a'}.",
        f"- Held-out L1 (EMA generator, images in [-1, 1]): {val_line}",
        "",
    ]
    if data_note:
        lines += ["## Data and licence", data_note, ""]
    path = save_style(out, config, {"head": net}, "\n".join(lines))
    _export_checked(net, path, name)
    return path


def _export_checked(net, folder: Path, name: str) -> None:
    """``folder/head.onnx`` from ``net``, checked against PyTorch (max abs diff <= 1e-3; for a
    multi-style net at several mixes); RuntimeError when the graph disagrees."""
    export_onnx(net, folder / "head.onnx", overwrite=True)
    report = check_parity(net, folder / "head.onnx")
    if not report.ok:
        raise RuntimeError(f"ONNX parity failed for {name}: {report.max_abs_diff}")


def _entry(value: Any, name: str) -> StyleEntry:
    if isinstance(value, StyleEntry):
        entry = value
    elif isinstance(value, Mapping):
        entry = StyleEntry.from_dict({"name": name, **value}, f"settings of {name!r}")
    else:  # a single style's folder or registry name: copy its settings
        entry = settings_from_style(load_style(value))
    reshaping = entry.post.reshape is not None and not entry.post.reshape.is_identity
    file = entry.reshape_file if entry.name == name and entry.reshape_file else f"reshape-{name}.onnx"
    return replace(entry, name=name, reshape_file=file if reshaping else None,
                   reshape_source=entry.reshape_source if reshaping else None)


def installed_settings(names: Sequence[str]) -> dict[str, Any]:
    """For each of ``names``: the installed single style of that name (its settings are copied by
    :func:`write_multi_style`), or no settings (``{}``) where none is installed or it is multi-style."""
    from ..styles.registry import available_styles

    known = available_styles()
    return {n: n if n in known and load_style(n).config.styles is None else {} for n in names}


def write_multi_style(model, out: Path, styles_settings: Mapping[str, Any] | Sequence[Any], *,
                      name: str = "multi", head_resolution: int = 256, full_resolution: int = 512,
                      description: str = "", card: str = "", overwrite: bool = False) -> Path:
    """Write a trained ``MultiStyleTranslator`` as a multi-style style folder (:mod:`toonforge.styles.multi`).

    ``styles_settings`` gives each of ``model.styles`` its own post-processing settings, as a
    mapping name -> setting or a sequence in the model's order; a setting is a
    :class:`StyleEntry`, a dict of entry keys (``keep_colours``, ``reshape``...), or a single
    style's folder or registry name whose settings are copied (:func:`settings_from_style`, e.g.
    ``{"anime": "anime", "cartoon": "cartoon"}`` takes the shipped styles' own). Writes
    ``model.safetensors``, ``config.json``, ``card.md`` (``card``, or a short one), ``head.onnx``
    (checked against PyTorch at several mixes) and ``reshape-<name>.onnx`` for each style with a
    reshape (copied from its folder, else exported from its spec). Atomic; refuses an existing
    ``out`` unless ``overwrite``.
    """
    from ..export.reshape_onnx import export_reshape_onnx

    net = model.cpu().eval()
    names = list(net.styles)
    if isinstance(styles_settings, Mapping):
        missing = [n for n in names if n not in styles_settings]
        if missing or len(styles_settings) != len(names):
            raise ValueError(f"styles_settings must name exactly the model's styles {names}")
        values = [styles_settings[n] for n in names]
    else:
        values = list(styles_settings)
        if len(values) != len(names):
            raise ValueError(f"styles_settings has {len(values)} entries for the model's {len(names)} styles")
    entries = [_entry(v, n) for v, n in zip(values, names)]
    head = NetSpec(MULTI_MODEL, dict(net.config), head_resolution)
    parse_entries([e.to_dict() for e in entries], head, f"multi-style model {name!r}")  # checks as load will
    config = StyleConfig(name=name, kind="network", head=head, full=None, full_resolution=full_resolution,
                         description=description or f"one translator ({net.config['tier']}) for {', '.join(names)}",
                         styles=entries)
    text = card or (f"# {name}\n\nOne {net.config['tier']} translator for the styles {', '.join(names)}, "
                    "mixed at run time (`--mix`).\n")
    with tempfile.TemporaryDirectory() as tmp:
        files: dict[str, Path] = {}
        for e in entries:
            if e.reshape_file is not None:
                src = e.reshape_source or export_reshape_onnx(e.post.reshape, Path(tmp) / e.reshape_file)
                files[e.reshape_file] = Path(src)
        path = save_style(out, config, {"head": net}, text, overwrite=overwrite, files=files)
    _export_checked(net, path, name)
    return path


def write_generator_style(generator_file: Path, out: Path, *, name: str, full_resolution: int = 512,
                          card: str = "") -> Path:
    """Wrap a stage-2 ``generator.safetensors`` as a style folder (PyTorch backend only).

    Used to evaluate a stage-2 teacher with ``toonforge eval`` next to the distilled styles;
    teachers are large (U-GAT-IT light is 10.6M parameters) and are not shipped.
    """
    from ..models.generator_file import load_generator_file, read_generator_meta

    model, config, info = read_generator_meta(generator_file)
    net, _ = load_generator_file(generator_file)
    size = int(info.get("size", 256))
    style = StyleConfig(name=name, kind="network", description=f"stage-2 {info.get('task', model)} teacher",
                        head=NetSpec(model, config, size), full=None, full_resolution=full_resolution)
    text = card or (f"# {name}\n\nStage-2 teacher `{model}` from `{generator_file}` "
                    f"(task {info.get('task')}, step {info.get('step')}, {size} px). Not for shipping.\n")
    return save_style(out, style, {"head": net}, text)
