"""Batch stylization of large photo collections with Ray Data (the ``ray`` extra).

:func:`stylize_collection` plans the jobs like ``toonforge stylize`` (same output paths, inputs
never overwritten, finished outputs skipped), then spreads them over a Ray cluster with
``Dataset.map_batches`` over :class:`StylizeBatch`, a callable class that loads the style once
per actor and runs the usual :class:`~toonforge.pipelines.stylizer.Stylizer` (ONNX Runtime, no
PyTorch). Each worker writes its outputs atomically; a bad photo is a row with an error, not
a failed job.

    import ray
    from toonforge.serve.ray_data import stylize_collection
    ray.init()                                 # or ray.init(address="auto") on a cluster
    rows = stylize_collection(["photos/"], "out/", style="classic", concurrency=4)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["StylizeBatch", "stylize_collection"]


class StylizeBatch:
    """``map_batches`` callable: a batch ``{"src": [...], "dst": [...]}`` -> the same with
    ``faces`` (int) and ``error`` ("" when written) per row."""

    def __init__(self, style: str, *, backend: str = "auto", detector: str | None = "dlib", strength: float = 1.0,
                 overwrite: bool = False, threads: int | None = None) -> None:
        from ..pipelines.stylizer import Stylizer

        self.stylizer = Stylizer(style, backend=backend, detector=detector, threads=threads)
        self.strength, self.overwrite = strength, overwrite

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from ..errors import InputError
        from ..io.images import load_image, save_image

        faces, errors = [], []
        for src, dst in zip(batch["src"], batch["dst"]):
            try:
                image = load_image(str(src))
                result = self.stylizer(image, strength=self.strength)
                save_image(str(dst), result.image, result.alpha, overwrite=self.overwrite)
                faces.append(len(result.faces))
                errors.append("")
            except InputError as exc:  # one bad photo is a row with its reason
                faces.append(0)
                errors.append(str(exc))
        return {"src": np.asarray(batch["src"]), "dst": np.asarray(batch["dst"]),
                "faces": np.asarray(faces, np.int64), "error": np.asarray(errors, dtype=object)}


def stylize_collection(inputs: list[str | Path], output: str | Path, *, style: str = "classic",
                       concurrency: int = 2, batch_size: int = 8, fmt: str | None = None, recursive: bool = False,
                       overwrite: bool = False, **stylizer_kwargs: Any) -> list[dict[str, Any]]:
    """Stylize every image under ``inputs`` into ``output`` on the running Ray cluster.

    Args:
        inputs, output, fmt, recursive, overwrite: as ``toonforge stylize``.
        concurrency: actors (each loads the style once).
        batch_size: photos per ``map_batches`` call.
        stylizer_kwargs: passed to :class:`StylizeBatch` (backend, detector, strength, threads).

    Returns:
        One row per photo processed: ``src``, ``dst``, ``faces``, ``error`` ("" on success).
        Outputs that already exist are skipped unless ``overwrite``.
    """
    import ray

    from ..pipelines.batch import is_done, plan_jobs

    jobs = plan_jobs([Path(p) for p in inputs], Path(output), fmt=fmt, recursive=recursive)
    todo = [j for j in jobs if overwrite or not is_done(j, False)]
    if not todo:
        return []
    ds = ray.data.from_items([{"src": str(j.src), "dst": str(j.dst)} for j in todo])
    out = ds.map_batches(StylizeBatch, fn_constructor_args=(style,),
                         fn_constructor_kwargs={"overwrite": overwrite, **stylizer_kwargs},
                         batch_size=batch_size, concurrency=concurrency, batch_format="numpy")
    return [{k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()} for row in out.take_all()]
