"""A style folder: ``config.json`` + ``model.safetensors`` + ``card.md`` (+ ONNX exports).

``config.json`` (format 1)::

    {
      "format": 1,
      "name": "classic",
      "kind": "network",              # or "filter" (the non-learned cartoon filter)
      "description": "one line",
      "head": {"model": "translator", "config": {"tier": "small", ...}, "resolution": 256},
      "full": null,                   # null: the head network also does the full image
      "full_resolution": 512,         # long side the full image is processed at
      "value_range": [-1, 1],         # network input/output range (RGB, NCHW)
      "reshape": null,                # or {"eyes": 1.3, "jaw": 0.1, ...}: see face.reshape
      "clean_skin": null,             # or 7: close ink strokes under 7 px on skin (face.skin)
      "keep_colours": 0.0,            # default share of the photo's coarse colours kept (pipelines.colour)
      "keep_colours_lift": 0.0,       # L* the style adds to every face's kept lightness
      "keep_colours_chroma": 1.0,     # share of keep_colours applied to chroma (0: lightness only)
      "video_style": null             # or "classic-lite": a lighter student style (a registry name)
    }                                 # that ``toonforge video`` runs instead (pipelines.video)

A multi-style model (head model ``translator-multi``) adds ``"styles"``: its styles in order, each
with its own post-processing settings (:mod:`.multi`); a mix of them is chosen at run time.

``model.safetensors`` holds the head weights under ``head.`` and, when the full-image network
is separate, its weights under ``full.``. ONNX exports are ``head.onnx`` / ``full.onnx``, and
``reshape.onnx`` (``export.reshape_onnx``) in a style with a reshape.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InputError
from ..face.reshape import ReshapeSpec
from .post import post_settings

if TYPE_CHECKING:  # PyTorch is imported only to build networks (the runtime needs none)
    import torch
    from torch import nn

    from .multi import StyleEntry

FORMAT_VERSION = 1
KINDS = ("network", "filter", "onnx")  # onnx: an imported outside graph (pipelines.onnx_graph)
ROLES = ("head", "full")


@dataclass
class NetSpec:
    """Which registered network a role uses and at what working resolution (pixels)."""

    model: str
    config: dict[str, Any]
    resolution: int

    @classmethod
    def from_dict(cls, d: Any, where: str) -> NetSpec:
        if not isinstance(d, dict):
            raise InputError(f"bad style config {where}: expected an object")
        try:
            spec = cls(model=str(d["model"]), config=dict(d.get("config", {})), resolution=int(d["resolution"]))
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise InputError(f"bad style config {where}: missing or invalid {exc}") from None
        for key, value in spec.config.items():  # a huge width would allocate terabytes, not fail
            if isinstance(value, (int, float)) and not isinstance(value, bool) and not abs(value) <= 65536:
                raise InputError(f"bad style config {where}: {key} = {value} is out of range")
        if not 32 <= spec.resolution <= 4096:
            raise InputError(f"bad style config {where}: resolution {spec.resolution} outside 32..4096")
        return spec


@dataclass
class StyleConfig:
    """The parsed ``config.json`` of a style folder."""

    name: str
    kind: str = "network"
    description: str = ""
    head: NetSpec | None = None
    full: NetSpec | None = None
    full_resolution: int = 512
    value_range: tuple[float, float] = (-1.0, 1.0)
    extra: dict[str, Any] = field(default_factory=dict)
    reshape: ReshapeSpec | None = None
    clean_skin: int | None = None
    keep_colours: float = 0.0
    keep_colours_lift: float = 0.0
    keep_colours_chroma: float = 1.0
    styles: list[StyleEntry] | None = None  # a multi-style model's styles, in its order (styles.multi)
    video_style: str | None = None  # the registry name of this style's video student, if any

    @classmethod
    def from_dict(cls, d: Any, source: str) -> StyleConfig:
        if not isinstance(d, dict):
            raise InputError(f"bad style config {source}: expected a JSON object")
        if d.get("format", FORMAT_VERSION) != FORMAT_VERSION:
            raise InputError(f"bad style config {source}: format {d.get('format')!r} is not supported")
        kind = d.get("kind", "network")
        if kind not in KINDS:
            raise InputError(f"bad style config {source}: kind {kind!r} not in {KINDS}")
        if "name" not in d:
            raise InputError(f"bad style config {source}: no 'name'")
        head = NetSpec.from_dict(d["head"], f"{source} (head)") if d.get("head") else None
        full = NetSpec.from_dict(d["full"], f"{source} (full)") if d.get("full") else None
        if kind in ("network", "onnx") and head is None:
            raise InputError(f"bad style config {source}: a {kind} style needs a 'head' network")
        try:
            full_res = int(d.get("full_resolution", 512))
        except (TypeError, ValueError, OverflowError):
            raise InputError(f"bad style config {source}: full_resolution must be an integer") from None
        value_range = d.get("value_range", (-1.0, 1.0))
        if not (isinstance(value_range, (list, tuple)) and len(value_range) == 2
                and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                        for v in value_range) and value_range[0] < value_range[1]):
            raise InputError(f"bad style config {source}: value_range must be [low, high] with low < high, "
                             f"got {value_range!r}")
        if not isinstance(d.get("extra", {}), dict):
            raise InputError(f"bad style config {source}: extra must be an object, got {d.get('extra')!r}")
        if not 32 <= full_res <= 8192:
            raise InputError(f"bad style config {source}: full_resolution {full_res} outside 32..8192")
        styles = None
        if d.get("styles") is not None:  # a multi-style model: its styles and their own settings
            from .multi import parse_entries

            styles = parse_entries(d["styles"], head, source)
        video_style = d.get("video_style")
        if video_style is not None and not (isinstance(video_style, str) and video_style.strip()
                                            and "/" not in video_style and "\\" not in video_style
                                            and video_style != d["name"]):
            raise InputError(f"bad style config {source}: video_style must name another style, got {video_style!r}")
        return cls(
            name=str(d["name"]),
            kind=kind,
            description=str(d.get("description", "")),
            head=head,
            full=full,
            full_resolution=full_res,
            value_range=(float(value_range[0]), float(value_range[1])),
            extra=dict(d.get("extra", {})),
            styles=styles,
            video_style=video_style,
            **post_settings(d, source),
        )

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["value_range"] = list(self.value_range)
        d["reshape"] = self.reshape.to_dict() if self.reshape else None
        if self.video_style is None:  # configs without a video student keep their earlier keys
            del d["video_style"]
        if self.styles is None:  # a single-style config keeps its earlier keys
            del d["styles"]
        else:
            d["styles"] = [e.to_dict() for e in self.styles]
        return {"format": FORMAT_VERSION, **d}


class Style:
    """A loaded style: its config, card and (lazily) its networks.

    Networks are built from the registry and filled from ``model.safetensors`` on first use.
    """

    def __init__(self, config: StyleConfig, path: Path | None = None, card: str = "",
                 weights: dict[str, torch.Tensor] | None = None) -> None:
        self.config = config
        self.path = path
        self.card = card
        self._weights = weights
        self.default_mix: dict[str, float] | None = None  # a multi-style model loaded by one style's name

    @property
    def name(self) -> str:
        return self.config.name

    # ---- loading ---------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path) -> Style:
        """Read a style folder. Raises InputError / CheckpointError with one-line messages."""
        path = Path(path)
        cfg_file = path / "config.json"
        if not cfg_file.is_file():
            raise InputError(f"{path} is not a style folder (no config.json)")
        try:
            raw = json.loads(cfg_file.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"bad style config {cfg_file}: {exc}") from None
        config = StyleConfig.from_dict(raw, str(cfg_file))
        card_file = path / "card.md"
        try:
            card = card_file.read_text(encoding="utf-8") if card_file.is_file() else ""
        except UnicodeDecodeError as exc:
            raise InputError(f"{card_file} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
        if config.kind == "network" and not (path / "model.safetensors").is_file():
            raise InputError(f"style {config.name!r} at {path} has no model.safetensors")
        if config.kind == "onnx":
            from ..pipelines.onnx_graph import GraphSpec

            spec = GraphSpec.from_config(config.head.config, config.head.resolution, str(cfg_file))
            if not (path / spec.file).is_file():
                raise InputError(f"style {config.name!r} at {path} has no {spec.file}")
        return cls(config, path, card)

    def spec(self, role: str) -> NetSpec:
        """The network spec doing ``role`` ("head" or "full"); full falls back to head."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}")
        spec = self.config.full if role == "full" and self.config.full else self.config.head
        if spec is None:
            raise InputError(f"style {self.name!r} has no network (kind {self.config.kind!r})")
        return spec

    def weight_prefix(self, role: str) -> str:
        return "full." if role == "full" and self.config.full else "head."

    def build_net(self, role: str = "head") -> nn.Module:
        """The network for ``role`` with its trained weights, in eval mode, on the CPU (needs PyTorch)."""
        from ..io.checkpoints import load_into, load_state_dict_file
        from ..models.factory import create_model

        spec = self.spec(role)
        if self.config.kind == "onnx":
            raise InputError(f"style {self.name!r} is an imported ONNX graph; it has no PyTorch network")
        net = create_model(spec.model, **spec.config)
        if self._weights is None:
            assert self.path is not None
            self._weights = load_state_dict_file(self.path / "model.safetensors")
        prefix = self.weight_prefix(role)
        state = {k[len(prefix):]: v for k, v in self._weights.items() if k.startswith(prefix)}
        load_into(net, state, f"style {self.name!r} {role} weights ({spec.model})")
        return net.eval()

    def weights_digest(self, role: str = "head") -> str:
        """Digest of the ``role`` network's weights in ``model.safetensors``, read with NumPy (no PyTorch).

        Equals :func:`~toonforge.io.checkpoints.weights_sha256` of :meth:`build_net`'s network.
        """
        from ..io.weights_digest import safetensors_digest

        if self.path is None:
            raise InputError(f"style {self.name!r} has no folder to read weights from")
        return safetensors_digest(self.path / "model.safetensors", self.weight_prefix(role))

    def onnx_path(self, role: str) -> Path | None:
        """Path of the exported ONNX file for ``role`` if the folder has one."""
        if self.path is None:
            return None
        name = "full.onnx" if role == "full" and self.config.full else "head.onnx"
        p = self.path / name
        return p if p.is_file() else None

    def summary(self, width: int = 90) -> str:
        """First sentence of the card's first paragraph (for ``toonforge styles``)."""
        para: list[str] = []
        for line in self.card.splitlines():
            line = line.strip()
            if line.startswith("#") or (not line and not para):
                continue
            if not line:
                break
            para.append(line)
        return first_sentence(" ".join(para) or self.config.description, width)


def first_sentence(text: str, width: int = 90) -> str:
    """The first sentence of ``text``, cut to ``width`` characters with "..." (for style listings)."""
    first = text.split(". ")[0].rstrip(".") + "."
    return first if len(first) <= width else first[: width - 3].rstrip() + "..."


@contextmanager
def _new_folder(path: Path, overwrite: bool) -> Iterator[Path]:
    """Yield a temporary folder beside ``path`` that replaces ``path`` when the block succeeds.

    Refuses an existing ``path`` unless ``overwrite``, and even then unless toonforge wrote it
    (:mod:`toonforge.io.outputs`: a folder of the user's is never deleted); on any error the
    temporary folder is removed and ``path`` is left as it was.
    """
    from ..io.outputs import claim_folder, replace_folder

    if path.exists() and not overwrite:
        raise InputError(f"{path} already exists; pass --overwrite to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        claim_folder(tmp, "toonforge (style)")
        yield tmp
        replace_folder(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def save_style(
    path: str | Path,
    config: StyleConfig,
    nets: dict[str, nn.Module],
    card: str,
    *,
    overwrite: bool = False,
    files: dict[str, Path] | None = None,
) -> Path:
    """Write a style folder atomically (a temp folder renamed into place).

    ``nets`` maps role -> module ("head" required for network styles, "full" optional);
    ``files`` maps a file name in the folder to a file copied there (an imported ONNX graph).
    Refuses to replace an existing folder unless ``overwrite``.
    """
    from safetensors.torch import save_file

    path = Path(path)
    with _new_folder(path, overwrite) as tmp:
        tensors: dict[str, torch.Tensor] = {}
        for role, net in nets.items():
            if role not in ROLES:
                raise ValueError(f"unknown role {role!r}")
            for k, v in net.state_dict().items():
                tensors[f"{role}.{k}"] = v.detach().cpu().contiguous()
        if tensors:
            save_file(tensors, str(tmp / "model.safetensors"), metadata={"format": "toonforge-style-1"})
        (tmp / "config.json").write_text(json.dumps(config.to_dict(), indent=2) + "\n", encoding="utf-8")
        (tmp / "card.md").write_text(card, encoding="utf-8")
        for name, src in (files or {}).items():
            shutil.copyfile(src, tmp / name)
    return path


def copy_style(style: Style, path: str | Path, config: StyleConfig, *, overwrite: bool = False) -> Path:
    """Copy a loaded style's folder (weights, card, ONNX files) to ``path`` with a new ``config``.

    Atomic like :func:`save_style`; the source folder is never written to. ``reshape.onnx`` is
    written afresh from ``config.reshape`` (and left out when there is none), so it always
    matches the copy's config.
    """
    path = Path(path)
    if style.path is None:
        raise InputError(f"style {style.name!r} has no folder to copy")
    if path.resolve() == style.path.resolve():
        raise InputError("the copy would replace the style's own folder; write it somewhere else")
    from ..io.outputs import check_output

    check_output(path, [style.path], kind="folder", option="the copy")  # never around or inside the source
    with _new_folder(path, overwrite) as tmp:
        from ..export.reshape_onnx import RESHAPE_ONNX, export_reshape_onnx
        from ..io.outputs import MARKER

        for f in style.path.iterdir():
            if f.is_file() and f.name not in (RESHAPE_ONNX, MARKER):
                shutil.copy2(f, tmp / f.name)
        if config.reshape is not None:
            export_reshape_onnx(config.reshape, tmp / RESHAPE_ONNX)
        (tmp / "config.json").write_text(json.dumps(config.to_dict(), indent=2) + "\n", encoding="utf-8")
    return path
