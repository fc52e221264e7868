"""Run styles over a folder of photos and measure them against a folder of style references.

For every style the full pipeline (detection, alignment, networks, paste-back) runs on every
photo at its own size; the output is then measured (identity on the full-size output, the
rest at a common evaluation size). A first pass over the photos is the *baseline* row: the
photos themselves, unstyled, against the same references.
"""

from __future__ import annotations

import os
import platform
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import InputError
from ..io.images import DEFAULT_MAX_PIXELS, list_images, load_image, resize_rgb, save_image, scaled_size
from .report import EvalReport, StyleRow
from .sheet import contact_sheet, pick_evenly
from .skin_tones import skin_summary

if TYPE_CHECKING:
    from ..styles.style import Style


@dataclass
class EvalOptions:
    """How to run an evaluation (the CLI flags of ``toonforge eval``)."""

    size: int = 256  # long side, in pixels, at which outputs and references are measured
    backend: str = "auto"  # see toonforge.pipelines.backends; each row records what ran
    device: str = "cpu"
    threads: int | None = None
    detector: str | None = "dlib"
    extractor: str = "mnv2"
    extractor_weights: Path | None = None
    max_photos: int | None = None
    max_pixels: int = DEFAULT_MAX_PIXELS
    baseline: bool = True
    progress: bool = True
    sheet_rows: int = 6
    kid_subsets: int = 100
    save_outputs: bool = True
    speed_photos: int = 24  # photos timed after the quality pass, styles in turn (0: no speed column)
    speed_warmup: int = 3  # untimed calls per style before them
    speed_rounds: int = 5  # turns per style; the median turn counts


@dataclass
class _Photo:
    path: Path
    small: np.ndarray  # (h, w, 3) uint8 at the evaluation size
    has_face: bool


def _small(rgb: np.ndarray, size: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    return rgb if max(h, w) == size else resize_rgb(rgb, scaled_size(w, h, size))


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "style"


def style_label(style: str) -> str:
    """Display name of a style argument: a registry name as given, a folder by its name."""
    p = Path(style)
    return p.name if (os.sep in style or p.is_dir()) else style


def _bar(items, desc: str, enabled: bool):
    from tqdm import tqdm

    return tqdm(items, desc=desc, unit="img", disable=not enabled, file=sys.stderr, leave=False)


class Evaluator:
    """Holds the loaded photos, references and metric models for one evaluation."""

    def __init__(self, photos: Path, refs: Path | None, opts: EvalOptions) -> None:
        from ..face.detector import create_detector
        from ..metrics import create_extractor

        self.opts = opts
        self.skipped: list[tuple[str, str]] = []
        self.detector = create_detector(opts.detector) if opts.detector else None
        self.extractor = create_extractor(opts.extractor, opts.extractor_weights, device=opts.device)
        self.photo_paths = self._list(photos, "photos")
        if opts.max_photos:
            self.photo_paths = self.photo_paths[:opts.max_photos]
        self.ref_paths = self._list(refs, "references") if refs else []
        self._describer = None
        self._content = None
        self._photo_descriptors: dict[Path, np.ndarray] = {}  # each photo's face, described once
        self._photo_skins: dict[Path, object] = {}  # each photo's skin tone, measured once

    @staticmethod
    def _list(folder: Path, what: str) -> list[Path]:
        if not folder.is_dir():
            raise InputError(f"{what}: not a folder: {folder}")
        paths = list_images(folder)
        if not paths:
            raise InputError(f"{what}: no images in {folder}")
        return paths

    def _load(self, path: Path) -> np.ndarray | None:
        try:
            return load_image(path, max_pixels=self.opts.max_pixels).rgb
        except InputError as exc:
            self.skipped.append((str(path), str(exc)))
            return None

    # ---- models used by the metrics, built on first use ------------------------------------
    @property
    def describer(self):
        if self._describer is None:
            from ..metrics import FaceDescriber

            self._describer = FaceDescriber()
        return self._describer

    @property
    def content_features(self):
        if self._content is None:
            from ..models.features.mobilenetv2 import MobileNetV2Features

            self._content = MobileNetV2Features(layers=(3, 6, 13)).eval()
        return self._content

    # ---- passes ------------------------------------------------------------------------------
    def load_photos(self) -> list[_Photo]:
        """Read every photo once: bad files are listed and skipped; faces are counted."""
        photos = []
        for path in _bar(self.photo_paths, "photos", self.opts.progress):
            rgb = self._load(path)
            if rgb is None:
                continue
            has_face = bool(self.detector(rgb)) if self.detector is not None else False
            photos.append(_Photo(path, _small(rgb, self.opts.size), has_face))
        if not photos:
            raise InputError("none of the photos could be read")
        return photos

    def reference_features(self) -> tuple[np.ndarray | None, dict[str, np.ndarray]]:
        """Features of the readable references, and their small images by stem (for the sheet)."""
        from ..metrics import extract_features

        smalls = {}
        for path in _bar(self.ref_paths, "references", self.opts.progress):
            rgb = self._load(path)
            if rgb is not None:
                smalls[path.stem] = _small(rgb, self.opts.size)
        if not smalls:
            return None, {}
        return extract_features(self.extractor, list(smalls.values())), smalls

    def distribution_metrics(self, row: StyleRow, images: list[np.ndarray], ref_feats: np.ndarray | None) -> None:
        """Sharpness, FD and KID of ``images`` (small uint8 RGB) into ``row``."""
        from ..metrics import extract_features, fd_between, kernel_inception_distance, mean_sharpness

        row.sharpness = mean_sharpness(images)
        if ref_feats is None or len(images) < 2 or len(ref_feats) < 2:
            return
        feats = extract_features(self.extractor, images)
        row.fd = fd_between(feats, ref_feats)
        row.kid_mean, row.kid_std = kernel_inception_distance(
            feats, ref_feats, subsets=self.opts.kid_subsets, subset_size=min(1000, len(feats), len(ref_feats)))

    def baseline_row(self, photos: list[_Photo], ref_feats: np.ndarray | None) -> StyleRow:
        row = StyleRow("input photos (no style)", kind="baseline", images=len(photos),
                       faces=sum(p.has_face for p in photos))
        self.distribution_metrics(row, [p.small for p in photos], ref_feats)
        if self.detector is not None:
            row.face_found_rate = row.faces / len(photos)
        row.content_distance = 0.0
        return row

    def stylizer(self, style: Style):
        """The pipeline that runs ``style`` under the options' engine and device (notes printed)."""
        from ..pipelines.backends import say_setup_notices
        from ..pipelines.stylizer import Stylizer

        o = self.opts
        stylizer = Stylizer(style, backend=o.backend, device=o.device, detector=self.detector, threads=o.threads)
        say_setup_notices(stylizer, quiet=not o.progress)
        return stylizer

    def style_row(self, name: str, stylizer, photos: list[_Photo], ref_feats: np.ndarray | None,
                  out_dir: Path | None, keep: set[int]) -> tuple[StyleRow, dict[int, np.ndarray]]:
        """Stylize every photo with ``stylizer`` (labelled ``name``) and measure everything but
        speed (see ``pipeline_speeds``); returns the row and the kept outputs."""
        from ..metrics import perceptual_distances, score_identity

        o = self.opts
        outputs, ids, kept, skins = [], [], {}, []
        for i, photo in enumerate(_bar(photos, name, o.progress)):
            rgb = load_image(photo.path, max_pixels=o.max_pixels).rgb
            result = stylizer(rgb)
            small = _small(result.image, o.size)
            outputs.append(small)
            if i in keep:
                kept[i] = small
            if out_dir is not None:
                save_image(out_dir / _slug(name) / f"{photo.path.stem}.png", small, overwrite=True)
            if result.faces:
                face = result.faces[0]
                skins.append(self.skin_pair(photo.path, rgb, result.image, face))
                if photo.path not in self._photo_descriptors:
                    self._photo_descriptors[photo.path] = self.describer.describe(rgb, face)
                ids.append(score_identity(rgb, result.image, face, self.describer, self.detector,
                                          photo_descriptor=self._photo_descriptors[photo.path]))
        is_network = stylizer.style.config.kind in ("network", "onnx")
        row = StyleRow(name, images=len(outputs), faces=len(ids), backend=stylizer.backend if is_network else None)
        self.distribution_metrics(row, outputs, ref_feats)
        dist = perceptual_distances([p.small for p in photos], outputs, features=self.content_features)
        row.content_distance = float(np.mean(dist))
        row.skin = skin_summary([p for p in skins if p is not None])
        if ids:
            row.identity = float(np.mean([s.similarity for s in ids]))
            row.same_person_rate = float(np.mean([s.distance < 0.6 for s in ids]))
            row.face_found_rate = float(np.mean([s.face_found for s in ids]))
        return row, kept

    def skin_pair(self, path: Path, rgb: np.ndarray, out: np.ndarray, face):
        """(photo, output) skin tones of a face (the photo's measured once), or None."""
        from ..face.skin_tone import measure_skin

        if path not in self._photo_skins:
            self._photo_skins[path] = measure_skin(rgb, face.landmarks)
        photo, styled = self._photo_skins[path], measure_skin(out, face.landmarks)
        return None if photo is None or styled is None else (photo, styled)

    def pipeline_speeds(self, stylizers: dict[str, Callable], photos: list[_Photo]) -> dict[str, float]:
        """Images per second of each stylizer, timed apart from the quality pass.

        ``speed_photos`` photos spread evenly over the set form a block. After ``speed_warmup``
        untimed calls each, the stylizers take turns, each running the whole block back to back,
        for ``speed_rounds`` rounds; a style's speed is the block size over its median block time.
        Taking turns spreads machine noise over the styles alike. Turns of whole blocks, not of
        single calls: with single calls three copies of one style each measured about a quarter
        slower than the style alone (most likely one session's threads still spinning while the
        next runs). Nothing else runs in between; identity scoring would compete for the cores.
        Empty when ``speed_photos`` is 0 or there are no photos.
        """
        from ..metrics.speed import time_interleaved

        o = self.opts
        if o.speed_photos < 1 or not photos or not stylizers:
            return {}
        chosen = [photos[i] for i in pick_evenly(len(photos), o.speed_photos)]
        images = [load_image(p.path, max_pixels=o.max_pixels).rgb for p in chosen]
        for stylizer in stylizers.values():
            for k in range(o.speed_warmup):
                stylizer(images[k % len(images)])

        def block(stylizer):
            return lambda: [stylizer(rgb) for rgb in images]

        seconds = time_interleaved({name: block(s) for name, s in stylizers.items()},
                                   repeats=o.speed_rounds, warmup=0)
        return {name: len(images) / t if t > 0 else float("inf") for name, t in seconds.items()}


def backend_summary(requested: str, rows: Sequence[StyleRow]) -> str:
    """What the report header says ran the networks: ``onnx``, or ``auto: onnx`` (``auto: a onnx, b torch``
    when the styles differ)."""
    if requested != "auto":
        return requested
    used = [(r.name, r.backend) for r in rows if r.backend]
    engines = {b for _, b in used}
    if len(engines) == 1:
        return f"auto: {engines.pop()}"
    return "auto: " + ", ".join(f"{n} {b}" for n, b in used) if used else "auto"


def evaluate(styles: Sequence[str], photos: Path, refs: Path | None, out_dir: Path, opts: EvalOptions, *,
             title: str = "Style evaluation", command: str = "") -> EvalReport:
    """Evaluate ``styles`` and write ``report.md``, ``report.json`` and ``contact_sheet.png``."""
    if not styles:
        raise InputError("give at least one --style")
    labels = [style_label(s) for s in styles]
    if len(set(labels)) != len(labels):
        raise InputError(f"two styles share a name: {', '.join(labels)}")
    from ..styles.registry import load_style

    loaded = [load_style(s) for s in styles]  # a bad name or folder fails before any style runs
    ev = Evaluator(photos, refs, opts)
    report = EvalReport(
        title=title, command=command, photos=str(photos), refs=str(refs) if refs else None, eval_size=opts.size,
        backend=opts.backend, fd_label=ev.extractor.fd_label, created=datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        machine=f"{platform.machine()} with {os.cpu_count()} CPU cores ({opts.device})",
    )
    photo_set = ev.load_photos()
    ref_feats, ref_smalls = ev.reference_features()
    report.photo_count, report.ref_count = len(photo_set), len(ref_smalls)
    if opts.baseline:
        report.rows.append(ev.baseline_row(photo_set, ref_feats))
    with_face = [i for i, p in enumerate(photo_set) if p.has_face] or list(range(len(photo_set)))
    keep = {with_face[j] for j in pick_evenly(len(with_face), opts.sheet_rows)}
    outputs_dir = out_dir / "outputs" if opts.save_outputs else None
    columns: list[dict[int, np.ndarray]] = []
    stylizers = {}
    for name, style in zip(labels, loaded, strict=True):
        stylizers[name] = ev.stylizer(style)
        row, kept = ev.style_row(name, stylizers[name], photo_set, ref_feats, outputs_dir, keep)
        report.rows.append(row)
        columns.append(kept)
    report.speed_photos = min(opts.speed_photos, len(photo_set))
    report.speed_warmup, report.speed_rounds = opts.speed_warmup, opts.speed_rounds
    if opts.progress and report.speed_photos:
        print(f"timing {len(stylizers)} style(s) on {report.speed_photos} photos ...", file=sys.stderr)
    for name, speed in ev.pipeline_speeds(stylizers, photo_set).items():
        report.row(name).images_per_second = speed
    report.backend = backend_summary(opts.backend, report.rows)
    report.skipped = ev.skipped
    report.write(out_dir)
    order = sorted(keep)
    paired = all(photo_set[i].path.stem in ref_smalls for i in order)
    names = ["input"] + labels + (["reference"] if paired else [])
    grid = [[photo_set[i].small] + [c.get(i) for c in columns]
            + ([ref_smalls[photo_set[i].path.stem]] if paired else []) for i in order]
    save_image(out_dir / "contact_sheet.png", contact_sheet(names, grid), overwrite=True)
    return report
