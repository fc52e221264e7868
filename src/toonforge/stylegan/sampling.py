"""Sampling StyleGAN2 generators into image datasets: style sets, paired sets, saved codes (Toonify).

Layouts (``NAME`` is ``seed{seed:07d}`` for random latents, ``latent{index:07d}`` for saved codes):

* one generator: ``DIR/NAME.png``;
* paired (``source`` given): ``DIR/photo/NAME.png`` from the source generator and
  ``DIR/style/NAME.png`` from the style generator, with the same W+ code and the same noise.

``DIR/manifest.jsonl`` gets one self-contained JSON line per image: name, seed, latent index, and
every setting (truncation, mixing, mapping, size, format, the generator files with their SHA-256 and
a digest of their weights), so :func:`regenerate` rebuilds any image from that line alone. Runs are
resumable: an image whose files all exist is skipped (images are written atomically, so existing
means finished), the manifest is appended in whole lines, and a folder sampled with other settings
is refused unless ``overwrite``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import CheckpointError, InputError
from ..io.checkpoints import weights_sha256
from ..io.files import file_sha256
from ..io.images import save_image
from ..io.jsonl import append_jsonl, read_jsonl
from ..models.stylegan2 import Generator, load_generator
from .fusion import check_same_architecture
from .latents import RenderSettings, check_latents, load_latents, render, truncation_center

MANIFEST = "manifest.jsonl"
FORMATS = ("png", "jpg", "webp", "bmp")
_IDENTITY = ("truncation", "truncation_cutoff", "mix_layers", "mix_seed", "mapping", "size", "format", "exact",
             "template")


@dataclass
class SampleReport:
    """What a :func:`sample_dataset` call did: image names written now and skipped as finished."""

    written: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    manifest: Path | None = None


def _resolve(gen: Generator | str | Path, allow_pickle: bool = False) -> tuple[Generator, dict[str, Any]]:
    if isinstance(gen, Generator):
        return gen.eval(), {"file": None, "sha256": None, "weights_sha256": weights_sha256(gen)}
    G = load_generator(gen, allow_pickle=allow_pickle)
    path = Path(gen).resolve()
    info = {"file": str(path), "sha256": file_sha256(path), "weights_sha256": weights_sha256(G)}
    if path.suffix.lower() == ".pkl":
        info["pickle"] = True  # the user allowed it; regenerate reloads it only after the SHA-256 check
    return G, info


def read_manifest(out_dir: str | Path) -> list[dict[str, Any]]:
    """The manifest's entries in order (an unfinished last line from an interrupted run is ignored)."""
    return [e for e in read_jsonl(Path(out_dir) / MANIFEST) if "name" in e]


def _identity(entry: dict[str, Any]) -> dict[str, Any]:
    out = {k: entry.get(k) for k in _IDENTITY}
    out["generators"] = {s: g.get("weights_sha256") for s, g in (entry.get("generators") or {}).items()}
    out["latents"] = (entry.get("latents") or {}).get("sha256")
    return out


def sample_dataset(
    style: Generator | str | Path, out_dir: str | Path, n: int | None = None, *, seed: int = 0,
    source: Generator | str | Path | None = None, latents: str | Path | None = None, truncation: float = 1.0,
    mix_layers: Sequence[int] | None = None, mix_seed: int | None = None, mapping: str = "source",
    size: int | None = None, fmt: str = "png", batch: int = 8, exact: bool = True, overwrite: bool = False,
    progress: bool = True, device: str | torch.device = "cpu", allow_pickle: bool = False,
    truncation_cutoff: int | None = None, template: str | Path | None = None,
    template_info: dict[str, Any] | None = None,
) -> SampleReport:
    """Render ``n`` images (or pairs) into ``out_dir``; see the module docstring for layout and resume.

    Args:
        style: the style generator (a weights file, or a Generator: then the manifest records only its
            weight digest and :func:`regenerate` needs it passed back in).
        n: number of images; with ``latents`` at most (and by default) the number of saved codes.
        seed: image ``i`` uses seed ``seed + i`` (its z, mixing donor and noise; noise only for codes).
        source: the photo generator for a paired set (same architecture as ``style``).
        latents: ``.npy`` / ``.safetensors`` W+ codes (N, num_ws, D) or W (N, D), e.g. inverted faces.
        truncation, mix_layers, mix_seed, mapping, size, truncation_cutoff: see :class:`RenderSettings`.
        allow_pickle: accept NVlabs ``.pkl`` generator files (restricted unpickler).
        fmt: png, jpg, webp or bmp. batch: images per step (per forward pass when ``exact=False``).
        exact: render one image per forward pass so pixels never depend on ``batch`` (default).
        overwrite: re-render everything and start a new manifest.
        template: a W+ code (1, num_ws, D) file (e.g. an inverted template face) whose ``mix_layers``
            replace every image's after truncation (see :func:`render`); ``template_info`` (JSON-able,
            e.g. the template image's digest and the inversion settings) goes into the manifest.
    """
    from tqdm import tqdm

    if fmt not in FORMATS:
        raise InputError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if batch < 1:
        raise InputError(f"batch must be at least 1, got {batch}")
    settings = RenderSettings(truncation, tuple(mix_layers) if mix_layers else None, mix_seed, mapping, size,
                              truncation_cutoff)
    G_style, info_style = _resolve(style, allow_pickle)
    gens, infos = {"style": G_style}, {"style": info_style}
    if source is not None:
        G_src, info_src = _resolve(source, allow_pickle)
        check_same_architecture(G_src, G_style, ("source", "style"))
        gens, infos = {"photo": G_src, "style": G_style}, {"photo": info_src, "style": info_style}
    if settings.mix_layers and max(settings.mix_layers) >= G_style.num_ws:
        raise InputError(f"mix layer {max(settings.mix_layers)} is out of range 0..{G_style.num_ws - 1}")
    donor, donor_info = _template(template, template_info, G_style, settings)
    codes, codes_info = None, None
    if latents is not None:
        codes = check_latents(load_latents(latents), G_style, Path(latents).name)
        codes_info = {"file": str(Path(latents).resolve()), "sha256": file_sha256(latents)}
        n = codes.shape[0] if n is None else n
        if n > codes.shape[0]:
            raise InputError(f"asked for {n} images but {Path(latents).name} holds {codes.shape[0]} codes")
    if n is None or n < 0:
        raise InputError("give the number of images to sample (n >= 0)")
    for G in gens.values():
        G.to(device)

    out = Path(out_dir)
    paired = len(gens) == 2
    common = {
        "generators": infos, "latents": codes_info, "truncation": settings.truncation, "mapping": mapping,
        "truncation_cutoff": truncation_cutoff,
        "mix_layers": list(settings.mix_layers) if settings.mix_layers else None, "mix_seed": mix_seed,
        "size": size, "format": fmt, "exact": exact, "template": donor_info,
        "truncation_center": {s: "latent_avg" if G.latent_avg is not None else "mean_latent(4096, seed 0)"
                              for s, G in gens.items()},
    }
    manifest = out / MANIFEST
    if overwrite and manifest.exists():
        manifest.unlink()
    old = read_manifest(out)
    clash = next((e for e in old if _identity(e) != _identity(common)), None)
    if clash is not None:
        raise InputError(f"{out} was sampled with other settings or weights (see {MANIFEST}); "
                         "use a new folder or --overwrite")
    recorded = {e["name"] for e in old}

    items = []  # (name, seed, latent index, {side: relative path})
    for i in range(n):
        name = f"latent{i:07d}" if codes is not None else f"seed{seed + i:07d}"
        files = {s: (f"{s}/" if paired else "") + f"{name}.{fmt}" for s in gens}
        items.append((name, seed + i, i if codes is not None else None, files))

    def entry(item):
        name, s, li, files = item
        return {"name": name, "seed": s, "latent_index": li, "files": files, **common}

    done = [it for it in items if not overwrite and all((out / f).is_file() for f in it[3].values())]
    todo = [it for it in items if overwrite or not all((out / f).is_file() for f in it[3].values())]
    out.mkdir(parents=True, exist_ok=True)
    append_jsonl(manifest, [entry(it) for it in done if it[0] not in recorded])
    report = SampleReport(skipped=[it[0] for it in done], manifest=manifest)
    centers = {s: truncation_center(G) for s, G in gens.items()}
    bar = tqdm(total=len(todo), unit="img", disable=not progress or not todo, file=sys.stderr)
    for start in range(0, len(todo), batch):
        chunk = todo[start:start + batch]
        idx = [it[2] for it in chunk]
        fixed = codes[idx] if codes is not None else None
        images = render(gens, [it[1] for it in chunk], settings, latents=fixed, exact=exact, centers=centers,
                        donor=donor)
        for k, it in enumerate(chunk):
            for side, rel in it[3].items():
                save_image(out / rel, images[side][k], overwrite=True)
        append_jsonl(manifest, [entry(it) for it in chunk])
        report.written.extend(it[0] for it in chunk)
        bar.update(len(chunk))
    bar.close()
    return report


def _template(path: str | Path | None, info: dict[str, Any] | None, G: Generator, settings: RenderSettings
              ) -> tuple[torch.Tensor | None, dict[str, Any] | None]:
    """(donor code (1, num_ws, D), its manifest record) of a template code file, or (None, None)."""
    if path is None:
        return None, None
    if not settings.mix_layers:
        raise InputError("a template needs the layers to take from it (e.g. --layers 5-8)")
    code = check_latents(load_latents(path), G, Path(path).name)
    if code.shape[0] != 1:
        raise InputError(f"a template is one code, {Path(path).name} holds {code.shape[0]}")
    return code, {**(info or {}), "code_file": str(Path(path).resolve())}


def regenerate(
    out_dir: str | Path, name: str, generators: dict[str, Generator] | None = None,
    device: str | torch.device = "cpu",
) -> dict[str, np.ndarray]:
    """Rebuild image ``name`` of a sampled folder from its manifest line: ``{side: (H, W, 3) uint8}``
    (sides ``style``, plus ``photo`` for paired sets).

    Generators are loaded from the recorded files unless passed in ``generators``; their weights must
    match the recorded digests (else a one-line CheckpointError). Bit-exact for ``exact`` runs on the
    same machine and torch build.
    """
    entry = next((e for e in reversed(read_manifest(out_dir)) if e.get("name") == name), None)
    if entry is None:
        raise InputError(f"{name!r} is not in {Path(out_dir) / MANIFEST}")
    gens = {}
    for side, info in entry["generators"].items():
        G = (generators or {}).get(side)
        if G is None:
            if not info.get("file"):
                raise InputError(f"the {side} generator was passed in memory; pass it again to regenerate")
            if file_sha256(info["file"]) != info["sha256"]:
                raise CheckpointError(f"{info['file']} changed since sampling (SHA-256 differs)")
            G = load_generator(info["file"], allow_pickle=bool(info.get("pickle")))
        if weights_sha256(G) != info["weights_sha256"]:
            raise CheckpointError(f"the {side} generator's weights differ from those recorded for {name}")
        gens[side] = G.eval().to(device)
    codes = None
    if entry.get("latents"):
        lat = entry["latents"]
        if file_sha256(lat["file"]) != lat["sha256"]:
            raise InputError(f"{lat['file']} changed since sampling (SHA-256 differs)")
        codes = check_latents(load_latents(lat["file"]), gens["style"])[[entry["latent_index"]]]
    mix = entry.get("mix_layers")
    settings = RenderSettings(entry["truncation"], tuple(mix) if mix else None, entry.get("mix_seed"),
                              entry.get("mapping", "source"), entry.get("size"), entry.get("truncation_cutoff"))
    donor = None
    if entry.get("template"):
        donor = check_latents(load_latents(entry["template"]["code_file"]), gens["style"])
    images = render(gens, [entry["seed"]], settings, latents=codes, exact=True, donor=donor)
    return {side: ims[0] for side, ims in images.items()}
