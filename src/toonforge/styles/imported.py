"""``toonforge import``: outside stylization models as style folders.

* :func:`import_animeganv2`: a state dict of AnimeGANv2's PyTorch generator (the face-paint
  ``.pt`` files, read with ``torch.load(weights_only=True)``) becomes a ``network`` style with
  ``model.safetensors`` and a checked ``head.onnx``; it runs in the whole pipeline like a trained
  style (the network does the face crops and the full frame).
* :func:`import_onnx_graph`: any ONNX image-to-image graph becomes an ``onnx`` style that keeps
  the graph as it is and records how to feed it (:mod:`..pipelines.onnx_graph`); no PyTorch.

Either card records where the weights came from (the path or URL given, and the file's SHA-256)
and that their licence is the user's to check.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import CheckpointError, InputError, first_line
from ..io.files import file_sha256
from .style import NetSpec, StyleConfig, save_style

GRAPH_FILE = "model.onnx"


def import_card(name: str, what: str, file: Path, source: str | None, how: list[str]) -> str:
    """The card of an imported style: origin, checksum, licence note, and how it is run."""
    return "\n".join([
        f"# {name}",
        "",
        f"{what}, imported with `toonforge import`; not trained by toonforge.",
        "",
        "## Source of the weights",
        f"- Imported from: `{source or file.name}`",
        f"- File: `{file.name}`, SHA-256 `{file_sha256(file)}`",
        "",
        "## Licence",
        "These weights are not toonforge's. Their licence, and the terms of the data they were trained on, "
        "are yours to check before you use or ship this style.",
        "",
        "## How it runs",
        *[f"- {line}" for line in how],
        "",
    ])


def import_animeganv2(weights: str | Path, out: str | Path, *, name: str | None = None, align_corners: bool = True,
                      resolution: int = 512, full_resolution: int = 512, source: str | None = None,
                      overwrite: bool = False) -> Path:
    """An AnimeGANv2 generator state dict (``.pt``/``.pth``/``.safetensors``) -> a network style at ``out``.

    ``align_corners`` picks the decoder's upsampling (True: the face-paint helper's; False: the test
    script's). ``resolution``: the face-crop size (512 for the face-paint models). Raises a one-line
    CheckpointError for a file of other keys or shapes.
    """
    from ..export.onnx_export import check_parity, export_onnx
    from ..io.checkpoints import load_into, load_state_dict_file
    from ..models.factory import create_model

    weights, out = Path(weights), Path(out)
    if resolution % 4 or not 64 <= resolution <= 2048:
        raise InputError(f"--resolution must be a multiple of 4 in 64..2048, got {resolution}")
    state = load_state_dict_file(weights)
    net = create_model("animeganv2", align_corners=align_corners)
    load_into(net, state, f"{weights.name} (AnimeGANv2 generator)")
    name = name or out.name
    mode = "aligned corners (face-paint helper)" if align_corners else "half-pixel x2 (test script)"
    config = StyleConfig(name=name, kind="network", description=f"AnimeGANv2 imported from {weights.name}",
                         head=NetSpec("animeganv2", dict(net.config), resolution), full=None,
                         full_resolution=full_resolution)
    card = import_card(name, "An AnimeGANv2 generator", weights, source, [
        f"Network: AnimeGANv2 generator, bilinear upsampling with {mode}.",
        f"Faces: FFHQ-aligned crops at {resolution} px; the full frame at long side {full_resolution} px "
        "through the same network.",
        "Input and output: RGB in [-1, 1].",
    ])
    path = save_style(out, config, {"head": net.eval()}, card, overwrite=overwrite)
    # Small sizes keep the export and its check quick on a CPU; the graph is the same at every size.
    export_onnx(net, path / "head.onnx", sample_size=64, overwrite=True)
    report = check_parity(net, path / "head.onnx", sizes=((64, 64), (48, 80)))
    if not report.ok:
        raise CheckpointError(f"ONNX export of {weights.name} differs from PyTorch: {report.max_abs_diff}")
    return path


def import_onnx_graph(graph: str | Path, out: str | Path, *, name: str | None = None, layout: str = "NCHW",
                      channels: str = "rgb", input_range: str = "-1,1", output_range: str | None = None,
                      resolution: int | None = None, aligned: bool = True, stride: int = 8,
                      full_resolution: int = 512, source: str | None = None, overwrite: bool = False) -> Path:
    """An ONNX image-to-image graph -> an ``onnx`` style at ``out`` (the graph copied as ``model.onnx``).

    The graph must have one float input of 3 channels in ``layout`` and an output of 3 channels; a
    static square input size fixes the resolution, a dynamic one takes ``resolution`` (default 256)
    for face crops and any size padded to ``stride`` for full frames. A test run on a random image
    checks that it returns an image of the input's size. One-line errors for anything else.
    """
    from ..pipelines.onnx_graph import GraphRunner, GraphSpec, describe_graph, parse_range

    graph, out = Path(graph), Path(out)
    if layout not in ("NCHW", "NHWC"):
        raise InputError(f"--layout must be NCHW or NHWC, got {layout!r}")
    info = describe_graph(graph, layout)
    fixed = info["size"] is not None
    if fixed:
        h, w = info["size"]
        if h != w:
            raise CheckpointError(f"{graph.name} takes {h}x{w} images only; square graphs are supported")
        if resolution is not None and resolution != h:
            raise InputError(f"{graph.name} takes {h}x{h} images only, not --resolution {resolution}")
        resolution = h
    resolution = resolution or 256
    spec = GraphSpec(file=GRAPH_FILE, resolution=resolution, layout=layout, channels=channels,
                     input_range=parse_range(input_range), output_range=parse_range(output_range or input_range),
                     fixed_size=fixed, stride=1 if fixed else stride, aligned=aligned)
    spec.check("--layout/--channels/--stride")
    runner = GraphRunner(graph, spec)
    side = resolution + (0 if fixed else -resolution % spec.stride)
    probe = np.random.default_rng(0).uniform(-1, 1, (1, 3, side, side)).astype(np.float32)
    try:
        result = runner(probe)
    except CheckpointError:
        raise
    except Exception as exc:  # noqa: BLE001  (ONNX Runtime refuses the input: wrong layout, size, type)
        raise CheckpointError(f"{graph.name} does not run on a {side}x{side} {layout} image: "
                              f"{first_line(exc)}") from None
    if not np.isfinite(result).all():
        raise CheckpointError(f"{graph.name} returns non-finite values on a test image")
    name = name or out.name
    config = StyleConfig(name=name, kind="onnx", description=f"ONNX graph imported from {graph.name}",
                         head=NetSpec("onnx_graph", spec.to_config(), resolution), full=None,
                         full_resolution=full_resolution)
    full = ("the full frame stays the photo; only the faces are stylized and pasted back" if aligned else
            f"the full frame at long side {full_resolution} px through the same graph")
    size = f"{resolution}x{resolution} only (other sizes are resized to it and back)" if fixed else \
        f"any size, padded to a multiple of {spec.stride}"
    card = import_card(name, "An outside ONNX image-to-image graph", graph, source, [
        f"Graph input: {layout}, {channels.upper()}, values in {list(spec.input_range)}; output in "
        f"{list(spec.output_range)}; {size}.",
        f"Faces: {'FFHQ-aligned crops' if aligned else 'crops'} at {resolution} px; {full}.",
        "Runs in ONNX Runtime only (no PyTorch network).",
    ])
    return save_style(out, config, {}, card, overwrite=overwrite, files={GRAPH_FILE: graph})
