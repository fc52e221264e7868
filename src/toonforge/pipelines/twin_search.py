"""Nearest neighbours in a TwinGAN's shared embedding (``reference/003_*``): index folders of images
of both domains, then find the images of either domain closest to a query.

Every image (index or query) becomes a square network input as ``translate --crop full`` makes it
(mirror-padded to a square, resized to the model's size) and is embedded by the model's shared
encoder (unit-length vectors); similarity is the cosine after subtracting the index's mean embedding
(the embeddings share a large common component: in the first toy run of ``docs/twingan``, every
uncentred top-5 cosine was above 0.98). Each indexed image is labelled with its
domain: the name of the first sub-folder it lies in under an index folder, or the index folder's own
name for the images directly in it (so ``--index pics/`` with ``pics/photo`` and ``pics/anime``, and
``--index photos/ --index anime/``, both label by domain).

The index is cached in one ``.npz`` file (NumPy arrays only, read with ``allow_pickle=False``),
written atomically: where the user names it, else under ``$TOONFORGE_CACHE/twin-index/`` (default
``~/.cache/toonforge/twin-index/``), named by a digest of the model file and the index folders. A
cached vector is reused while its file keeps its path, size and modification time; new files are
embedded, vanished ones dropped. A cache file that is not such an index, or holds another model's
index, is refused, never replaced.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import CheckpointError, InputError
from ..io.images import SAVE_EXTENSIONS, list_images, load_image
from .crops import read_or_report, square_image
from .tensors import to_network

__all__ = ["CACHE_FORMAT", "Match", "SearchReport", "TwinIndex", "default_cache_path", "load_twin", "similarities",
           "twin_search"]

CACHE_FORMAT = "toonforge-twin-index-1"


@dataclass
class TwinIndex:
    """Embedded images: ``files`` (absolute paths), ``domains`` (labels), ``stamps`` (M, 2) int64
    (size in bytes, mtime in ns) and ``vectors`` (M, D) float32, unit rows."""

    files: list[str]
    domains: list[str]
    stamps: np.ndarray
    vectors: np.ndarray


@dataclass
class Match:
    """One neighbour: its rank (1 = nearest), file, domain label and cosine similarity."""

    rank: int
    path: Path
    domain: str
    similarity: float


@dataclass
class SearchReport:
    """What :func:`twin_search` did. ``problems``: (file, reason) of index images that could not be read."""

    matches: list[Match]
    indexed: int
    embedded: int
    cache: Path
    problems: list[tuple[str, str]] = field(default_factory=list)
    sheet: Path | None = None


def load_twin(model: str | os.PathLike[str], *, last: bool = False, device: str = "cpu"):  # -> (TwinGAN, Path)
    """The TwinGAN of a run folder or generator file (see ``translate``'s ``resolve_generator``), in eval
    mode, and the file it came from; CheckpointError for a generator that is not a TwinGAN."""
    from ..export.runtime import resolve_device
    from ..models.generator_file import load_generator_file
    from .translate import resolve_generator

    path = resolve_generator(model, last=last)
    net, _ = load_generator_file(path, device=resolve_device(device))
    if getattr(net, "model_name", None) != "twingan":
        raise CheckpointError(f"{path} holds a {getattr(net, 'model_name', '?')!r} generator, not a TwinGAN "
                              "(train one with `toonforge train-twingan`)")
    return net, path


def embed_images(net, images: Sequence[np.ndarray], batch_size: int = 16) -> np.ndarray:
    """uint8 (H, W, 3) images -> (N, D) float32 unit vectors of ``net.embed`` (squared to its size)."""
    import torch

    device = next(net.parameters()).device
    out = []
    with torch.inference_mode():
        for i in range(0, len(images), batch_size):
            crops = [square_image(im, net.size) for im in images[i:i + batch_size]]
            out.append(net.embed(torch.from_numpy(to_network(crops)).to(device)).float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, net.embed_dim), np.float32)


def _domain_files(folders: Sequence[Path]) -> list[tuple[Path, str]]:
    found = []
    for root in folders:
        if not root.is_dir():
            raise InputError(f"--index: not a folder: {root}")
        for f in list_images(root, recursive=True):
            rel = f.relative_to(root).parts
            found.append((f.resolve(), rel[0] if len(rel) > 1 else root.resolve().name))
    if not found:
        raise InputError(f"no images to index in {', '.join(str(f) for f in folders)}")
    return found


def default_cache_path(model_sha: str, folders: Sequence[Path]) -> Path:
    """``$TOONFORGE_CACHE/twin-index/<digest>.npz`` for this model and these index folders."""
    from .backends import cache_dir  # $TOONFORGE_CACHE/onnx: its parent is toonforge's cache root

    key = json.dumps([model_sha, sorted(str(f.resolve()) for f in folders)])
    return cache_dir().parent / "twin-index" / f"{hashlib.sha256(key.encode()).hexdigest()[:20]}.npz"


def _read_cache(path: Path, model_sha: str) -> TwinIndex | None:
    if not path.exists():
        return None
    if path.suffix != ".npz" or not path.is_file():
        raise InputError(f"--cache {path} must be a .npz file made by twin-search")
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            got = TwinIndex([str(s) for s in z["files"]], [str(s) for s in z["domains"]],
                            z["stamps"].astype(np.int64), z["vectors"].astype(np.float32))
    except (OSError, ValueError, KeyError) as exc:
        raise InputError(f"{path} is not a twin-search index ({type(exc).__name__}); give another --cache") from None
    if meta.get("format") != CACHE_FORMAT:
        raise InputError(f"{path} is not a twin-search index; give another --cache")
    if meta.get("model_sha256") != model_sha:
        raise InputError(f"{path} holds the index of another model; give another --cache")
    return got


def _write_cache(path: Path, index: TwinIndex, model_sha: str) -> None:
    from ..io.files import atomic_output

    meta = json.dumps({"format": CACHE_FORMAT, "model_sha256": model_sha})
    with atomic_output(path) as tmp, open(tmp, "wb") as fh:  # an open file: np.savez adds no suffix
        np.savez(fh, meta=np.array(meta), files=np.array(index.files, dtype=str),
                 domains=np.array(index.domains, dtype=str), stamps=index.stamps,
                 vectors=index.vectors.astype(np.float32))


def update_index(net, folders: Sequence[Path], cache: Path, model_sha: str, *, batch_size: int = 16,
                 problems: list[tuple[str, str]] | None = None) -> tuple[TwinIndex, int]:
    """The index of ``folders``, reusing ``cache`` where files are unchanged; (index, images embedded now).
    The cache is rewritten when anything changed. Unreadable images go to ``problems`` and are left out."""
    problems = [] if problems is None else problems
    old = _read_cache(cache, model_sha)
    known = {}
    if old is not None:
        known = {f: (tuple(int(v) for v in s), old.vectors[i]) for i, (f, s) in enumerate(zip(old.files, old.stamps))}
    files, domains, stamps, vectors, todo = [], [], [], [], []
    for path, domain in _domain_files(folders):
        st = path.stat()
        stamp = (st.st_size, st.st_mtime_ns)
        hit = known.get(str(path))
        files.append(str(path))
        domains.append(domain)
        stamps.append(stamp)
        vectors.append(hit[1] if hit is not None and hit[0] == stamp else None)
        if vectors[-1] is None:
            todo.append(len(files) - 1)
    keep = [True] * len(files)
    for start in range(0, len(todo), 64):  # read and embed in chunks: memory stays small
        chunk, images = todo[start:start + 64], []
        for i in chunk:
            rgb = read_or_report(Path(files[i]), problems)
            keep[i] = rgb is not None
            if rgb is not None:
                images.append(rgb)
        for i, v in zip([i for i in chunk if keep[i]], embed_images(net, images, batch_size)):
            vectors[i] = v
    sel = [i for i in range(len(files)) if keep[i]]
    if not sel:
        raise InputError("no readable images to index")
    index = TwinIndex([files[i] for i in sel], [domains[i] for i in sel],
                      np.array([stamps[i] for i in sel], np.int64).reshape(-1, 2),
                      np.stack([vectors[i] for i in sel]).astype(np.float32))
    if old is None or todo or old.files != index.files:
        _write_cache(cache, index, model_sha)
    return index, len(todo) - (len(files) - len(sel))


def similarities(vectors: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Cosine similarities (Q, M) of queries (Q, D) to index vectors (M, D), both centred on the mean
    of ``vectors`` first (no centring for a one-image index)."""
    vectors, queries = vectors.astype(np.float64), np.atleast_2d(queries).astype(np.float64)
    if len(vectors) > 1:
        mu = vectors.mean(axis=0)
        vectors, queries = vectors - mu, queries - mu

    def unit(a: np.ndarray) -> np.ndarray:
        return a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)

    return (unit(queries) @ unit(vectors).T).astype(np.float32)


def nearest(index: TwinIndex, query: np.ndarray, k: int, domain: str | None = None) -> list[Match]:
    """The ``k`` indexed images most similar to the embedding ``query`` (D,) (see :func:`similarities`),
    optionally only of one domain label; ties keep index order."""
    pick = np.arange(len(index.files)) if domain is None else \
        np.array([i for i, d in enumerate(index.domains) if d == domain], dtype=np.int64)
    if not len(pick):
        raise InputError(f"no indexed images of domain {domain!r}; domains: {', '.join(sorted(set(index.domains)))}")
    sims = similarities(index.vectors, query)[0][pick]
    order = np.argsort(-sims, kind="stable")[:k]
    return [Match(r + 1, Path(index.files[pick[j]]), index.domains[pick[j]], float(sims[j]))
            for r, j in enumerate(order)]


def match_sheet(query: np.ndarray, matches: Sequence[Match], tile: int = 160) -> np.ndarray:
    """One row: the query, then each match labelled ``#rank domain similarity``: (H, W, 3) uint8."""
    from ..evaluation.sheet import contact_sheet

    columns = ["query"] + [f"#{m.rank} {m.domain} {m.similarity:.3f}" for m in matches]
    return contact_sheet(columns, [[query] + [load_image(m.path).rgb for m in matches]], tile=tile)


def twin_search(model: str | os.PathLike[str], folders: Sequence[str | os.PathLike[str]],
                query: str | os.PathLike[str], *, k: int = 5, domain: str | None = None,
                output: str | os.PathLike[str] | None = None, overwrite: bool = False,
                cache: str | os.PathLike[str] | None = None, batch_size: int = 16, device: str = "cpu",
                last: bool = False, say: Callable[[str], None] | None = None) -> SearchReport:
    """Index ``folders`` with the TwinGAN ``model`` and return the ``k`` images nearest to ``query``.

    Args:
        domain: only neighbours with this domain label.
        output: where to write a contact sheet (an image path; refused if it exists unless ``overwrite``).
        cache: the index file (``.npz``); default :func:`default_cache_path`.
        say: where progress notices go (default: nowhere).
    """
    from ..io.files import file_sha256
    from ..io.images import save_image

    if k < 1 or batch_size < 1:
        raise InputError("-k and --batch-size must be at least 1")
    q_path, folders = Path(query), [Path(f) for f in folders]
    if not folders:
        raise InputError("give at least one --index folder")
    if not q_path.is_file():
        raise InputError(f"query image not found: {q_path}")
    out = Path(output) if output is not None else None
    if out is not None and out.exists() and not overwrite:
        raise InputError(f"{out} already exists (use --overwrite to replace it)")
    if out is not None and out.suffix.lower() not in SAVE_EXTENSIONS:
        raise InputError(f"-o {out}: use an image extension ({' '.join(sorted(SAVE_EXTENSIONS))})")
    q_rgb = load_image(q_path).rgb
    net, model_file = load_twin(model, last=last, device=device)
    sha = file_sha256(model_file)
    cache_path = Path(cache) if cache is not None else default_cache_path(sha, folders)
    problems: list[tuple[str, str]] = []
    index, embedded = update_index(net, folders, cache_path, sha, batch_size=batch_size, problems=problems)
    (say or (lambda m: None))(f"index: {len(index.files)} images ({embedded} embedded now) in {cache_path}")
    matches = nearest(index, embed_images(net, [q_rgb])[0], k, domain)
    report = SearchReport(matches, len(index.files), embedded, cache_path, problems)
    if out is not None:
        report.sheet = save_image(out, match_sheet(q_rgb, matches), overwrite=overwrite)
    return report
