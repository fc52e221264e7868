"""Latent editing: attribute directions by logistic regression, moves along them, face fusion, pose.

A direction is the unit normal of the hyperplane that best separates latents labelled 1 from those
labelled 0 (InterFaceGAN's recipe, Shen et al. 2020); moving a code by ``step`` along it changes its
signed distance to that hyperplane by ``step``. Labels come from a CSV file (``name,label``), from a
classifier run on the images G draws, or, for pose, from the yaw proxy of face landmarks.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import InputError, first_line
from ..face.types import five_points_f64
from ..io.files import atomic_output, atomic_write_text


@dataclass
class Direction:
    """A separating hyperplane in latent space.

    Attributes:
        vector: unit-norm (over all entries) normal, (D,) for W or (num_ws, D) for W+; it points to label 1.
        bias: offset so that ``decision(x) = <vector, x> + bias`` is the signed distance to the plane.
        accuracy: fraction of the training latents on the right side (NaN when unknown).
    """

    vector: torch.Tensor
    bias: float = 0.0
    accuracy: float = float("nan")

    def decision(self, latents: torch.Tensor) -> torch.Tensor:
        """Signed distances (N,) of latents shaped (N, *vector.shape); positive means label 1."""
        x = latents.float().reshape(latents.shape[0], -1)
        return x @ self.vector.reshape(-1).to(x) + self.bias

    def predict(self, latents: torch.Tensor) -> torch.Tensor:
        """Labels (N,) int64 in {0, 1}."""
        return (self.decision(latents) > 0).long()


def fit_direction(
    latents: torch.Tensor | np.ndarray, labels: torch.Tensor | np.ndarray | Sequence[float], *,
    l2: float = 1e-3, steps: int = 200,
) -> Direction:
    """Logistic regression (full-batch L-BFGS, L2 penalty ``l2 * |w|^2``) of labels on latents.

    Args:
        latents: (N, D) W codes or (N, num_ws, D) W+ codes.
        labels: (N,) values in {0, 1}; both classes must occur.
        steps: L-BFGS iterations at most.

    The latents are centred and divided by one global scale (not per feature, which would bend the
    normal), so the fit is well conditioned and its normal is the normal in latent space.
    Returns a :class:`Direction` with a vector of the latents' per-sample shape.
    """
    x = torch.as_tensor(np.asarray(latents) if not isinstance(latents, torch.Tensor) else latents).float()
    y = torch.as_tensor(np.asarray(labels, dtype=np.float32) if not isinstance(labels, torch.Tensor)
                        else labels).float().reshape(-1)
    if x.ndim not in (2, 3) or x.shape[0] != y.shape[0]:
        raise InputError(f"need latents (N, D) or (N, num_ws, D) and N labels, got {tuple(x.shape)} "
                         f"and {y.shape[0]} labels")
    if not bool(((y == 0) | (y == 1)).all()):
        raise InputError("labels must be 0 or 1")
    if y.min() == y.max():
        raise InputError(f"all {y.numel()} labels are {int(y[0])}; a direction needs examples of both classes")
    shape = x.shape[1:]
    flat = x.reshape(x.shape[0], -1).double()
    mu = flat.mean(0)
    scale = float((flat - mu).pow(2).mean().sqrt().clamp_min(1e-12))  # RMS of one entry
    xs = (flat - mu) / scale
    w = torch.zeros(xs.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros((), dtype=torch.float64, requires_grad=True)
    yd = y.double()
    opt = torch.optim.LBFGS([w, b], lr=1.0, max_iter=steps, tolerance_grad=1e-9, tolerance_change=1e-12,
                            line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(xs @ w + b, yd) + l2 * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    w, b = w.detach(), b.detach()
    norm = float(w.norm())
    if not math.isfinite(norm) or norm < 1e-12:
        raise InputError("the labels do not depend on the latents (the fitted normal is zero)")
    vector = (w / norm).float()
    # decision in raw coordinates: (w . (x - mu) / scale + b) / |w| * scale  -> distance in latent units
    bias = float((b * scale / norm) - (vector.double() @ mu))
    direction = Direction(vector.reshape(shape), bias)
    direction.accuracy = float((direction.predict(x) == y.long()).float().mean())
    return direction


def edit(ws: torch.Tensor, direction: Direction | torch.Tensor, step: float,
         layers: Sequence[int] | None = None) -> torch.Tensor:
    """``ws + step * direction`` for ws (N, D) or (N, num_ws, D).

    A (D,) direction moves every layer of W+ codes; a (num_ws, D) one needs W+ codes. ``layers``
    limits the move to those ws indices (W+ only), e.g. the coarse layers for pose. Returns a new
    tensor of ws's shape and dtype.
    """
    v = direction.vector if isinstance(direction, Direction) else torch.as_tensor(direction)
    v = v.to(ws)
    while v.ndim > 1 and v.shape[0] == 1:
        v = v[0]
    if ws.ndim not in (2, 3) or ws.shape[-1] != v.shape[-1]:
        raise InputError(f"latents {tuple(ws.shape)} do not match a direction of shape {tuple(v.shape)}")
    if v.ndim == 2 and (ws.ndim != 3 or ws.shape[1] != v.shape[0]):
        raise InputError(f"a per-layer direction {tuple(v.shape)} needs W+ codes (N, {v.shape[0]}, {v.shape[1]})")
    move = step * v
    if layers is not None:
        if ws.ndim != 3:
            raise InputError("editing chosen layers needs W+ codes (N, num_ws, D)")
        mask = torch.zeros(ws.shape[1], 1, dtype=ws.dtype, device=ws.device)
        idx = list(layers)
        if any(not 0 <= i < ws.shape[1] for i in idx):
            raise InputError(f"layers must lie in 0..{ws.shape[1] - 1}, got {idx}")
        mask[idx] = 1
        move = move * mask if v.ndim == 2 else move.unsqueeze(0) * mask
    return ws + move


def fuse(latents: Sequence[torch.Tensor] | torch.Tensor, weights: Sequence[float] | torch.Tensor | None = None
         ) -> torch.Tensor:
    """Face fusion: the weighted average of K codes of one shape ((num_ws, D), (1, num_ws, D) or (D,)).

    weights: (K,) non-negative, or (K, num_ws) for per-layer mixing of W+ codes (e.g. one face's coarse
    layers, another's fine ones); normalized to sum to 1 (per layer). None: the plain mean.
    Returns a code of the inputs' shape.
    """
    codes = torch.stack(list(latents)) if not isinstance(latents, torch.Tensor) else latents
    if codes.shape[0] == 0:
        raise InputError("nothing to fuse")
    k = codes.shape[0]
    wt = torch.ones(k) if weights is None else torch.as_tensor(weights, dtype=torch.float32)
    if wt.shape[0] != k or wt.ndim > 2:
        raise InputError(f"need {k} weights (or {k} x num_ws), got shape {tuple(wt.shape)}")
    if (wt < 0).any() or not torch.isfinite(wt).all():
        raise InputError("fusion weights must be finite and non-negative")
    total = wt.sum(0, keepdim=True)
    if (total <= 0).any():
        raise InputError("fusion weights sum to zero")
    wt = (wt / total).to(codes)
    if wt.ndim == 2:  # (K, num_ws): the ws axis is the second-to-last of each code
        if codes.ndim < 3 or codes.shape[-2] != wt.shape[1]:
            raise InputError(f"per-layer weights {tuple(wt.shape)} do not match codes {tuple(codes.shape[1:])}")
        wt = wt.reshape(k, *([1] * (codes.ndim - 3)), wt.shape[1], 1)
    else:
        wt = wt.reshape(k, *([1] * (codes.ndim - 1)))
    return (codes * wt).sum(0)


def yaw_labels(landmarks: Sequence[np.ndarray], *, binary: bool = False,
               threshold: float | None = None) -> np.ndarray:
    """A yaw proxy per face: the nose tip's horizontal offset from the midpoint of the eyes, divided by
    the inter-ocular distance (positive: the nose points to the image's right).

    landmarks: (68, 2) or (5, 2) pixel coordinates per face (see :func:`toonforge.face.types.five_points`).
    Returns (N,) float64 scores, or with ``binary`` 0/1 labels (score above ``threshold``, default the
    median, so both classes get about half the faces).
    """
    scores = []
    for lm in landmarks:
        p = five_points_f64(lm)
        eyes = (p[0] + p[1]) / 2
        iod = float(np.hypot(*(p[1] - p[0])))
        if iod < 1e-6:
            raise InputError("degenerate landmarks: the eyes coincide")
        scores.append((p[2, 0] - eyes[0]) / iod)
    out = np.asarray(scores, dtype=np.float64)
    if not binary:
        return out
    cut = float(np.median(out)) if threshold is None else float(threshold)
    return (out > cut).astype(np.float64)


@torch.no_grad()
def render_batches(G, ws: torch.Tensor, batch: int = 8, seed: int = 0):
    """Yield (start index, images (n, 3, size, size) in [-1, 1]) for W+ codes, with fixed seeded noise."""
    noise = G.make_noise(seed)
    device = next(G.parameters()).device
    for i in range(0, ws.shape[0], batch):
        yield i, G.synthesis(ws[i:i + batch].to(device), noise=noise)


def classifier_labels(G, ws: torch.Tensor, classifier: Callable[[torch.Tensor], torch.Tensor], *,
                      threshold: float = 0.5, batch: int = 8) -> torch.Tensor:
    """Labels (N,) in {0, 1}: ``classifier`` maps G's images (n, 3, size, size) in [-1, 1] to scores
    (n,) (e.g. probabilities); a score above ``threshold`` is label 1."""
    out = [torch.as_tensor(classifier(images)).reshape(-1).float().cpu() for _, images in render_batches(G, ws, batch)]
    return (torch.cat(out) > threshold).long()


def pose_scores(G, ws: torch.Tensor, detector: Callable[[np.ndarray], list], *, batch: int = 8
                ) -> tuple[np.ndarray, np.ndarray]:
    """Yaw proxies of the faces G draws for W+ codes (N, num_ws, D): (scores (N,), found (N,) bool).
    Images without a detected face get NaN and ``found`` False."""
    from .latents import to_uint8

    scores, found = np.full(ws.shape[0], np.nan), np.zeros(ws.shape[0], bool)
    for start, images in render_batches(G, ws, batch):
        for j, rgb in enumerate(to_uint8(images)):
            faces = detector(rgb)
            if faces:
                scores[start + j] = yaw_labels([faces[0].landmarks])[0]
                found[start + j] = True
    return scores, found


def label_rows(path: str | Path):
    """Yield (line number, name, value) of a CSV label file's ``name,value`` rows (blank lines and
    ``#`` comments skipped; a row without two fields is a one-line InputError)."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"label file not found: {p}")
    with open(p, newline="", encoding="utf-8") as fh:
        for i, row in enumerate(csv.reader(fh), start=1):
            if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
                continue
            if len(row) < 2 or not row[1].strip():
                raise InputError(f"{p.name} line {i}: expected 'name,label'")
            yield i, row[0].strip(), row[1].strip()


def read_labels(path: str | Path) -> dict[str, int]:
    """A label file: CSV rows ``name,label`` with label 0 or 1 (a header row is allowed)."""
    p = Path(path)
    out: dict[str, int] = {}
    for i, name, value in label_rows(p):
        if value not in ("0", "1", "0.0", "1.0"):
            if i == 1 and not out:
                continue  # header
            raise InputError(f"{p.name} line {i}: label must be 0 or 1, got {value!r}")
        out[name] = int(float(value))
    if not out:
        raise InputError(f"{p.name} holds no labels")
    return out


def save_direction(path: str | Path, direction: Direction) -> Path:
    """Write the normal as ``.npy`` (float32, shape of the vector) and bias/accuracy to ``<stem>.json``."""
    p = Path(path)
    if p.suffix.lower() != ".npy":
        raise InputError(f"directions are saved as .npy, got {p.name}")
    with atomic_output(p) as tmp, open(tmp, "wb") as fh:
        np.save(fh, direction.vector.cpu().numpy().astype(np.float32))
    meta = {"bias": direction.bias, "accuracy": direction.accuracy, "shape": list(direction.vector.shape)}
    atomic_write_text(p.with_suffix(".json"), json.dumps(meta, indent=1))
    return p


def load_direction(path: str | Path) -> Direction:
    """Read a direction ``.npy`` ((D,), (1, D), (num_ws, D) or (1, num_ws, D); e.g. an InterFaceGAN
    boundary) and its ``.json`` sidecar when present; the vector is renormalized to unit norm."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"direction file not found: {p}")
    try:
        v = torch.from_numpy(np.load(p, allow_pickle=False).astype(np.float32))
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"cannot read direction {p.name}: {first_line(exc)}") from None
    while v.ndim > 1 and v.shape[0] == 1:
        v = v[0]
    norm = float(v.norm()) if v.numel() else 0.0
    if v.ndim not in (1, 2) or not math.isfinite(norm) or norm == 0:
        raise InputError(f"{p.name}: expected a non-zero finite (D,) or (num_ws, D) vector, got {tuple(v.shape)}")
    meta = json.loads(p.with_suffix(".json").read_text()) if p.with_suffix(".json").is_file() else {}
    return Direction(v / norm, float(meta.get("bias", 0.0)), float(meta.get("accuracy", float("nan"))))
