"""A second judge beside FD-MNv2: a linear probe that tells style references from photos
(``python -m toonforge.metrics.probe``, or ``scripts/anime_probe.py``).

FD-MNv2 compares whole feature distributions; it moved with the amount of line work in every
anime experiment (docs/anime/README.md, steps 7-12). This probe asks a narrower question: along
the one direction in MobileNetV2's pooled features that best separates the training style
references from training photos (L2-regularised logistic regression, fitted here with L-BFGS),
how far towards the references does each style's output lie? It prints, per output folder, the
mean logit (0 = undecided, positive = reference-like) and the share classified as references.
Fit it on training sets only; score the held-out eval's outputs.

    python -m toonforge.metrics.probe --refs work-data/anime-line/train-anime \
        --photos work-data/photos/train-photos-src EVAL/outputs/STYLE_A EVAL/outputs/STYLE_B
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ..io.images import list_images, load_image, resize_rgb, scaled_size


def load_folder(folder: Path, limit: int | None, side: int = 256) -> list[np.ndarray]:
    """Up to ``limit`` images of ``folder`` (every k-th, in name order) at long side ``side``."""
    files = list_images(folder)
    if limit and len(files) > limit:
        files = files[:: len(files) // limit][:limit]
    images = []
    for f in files:
        rgb = load_image(f).rgb
        h, w = rgb.shape[:2]
        images.append(resize_rgb(rgb, scaled_size(w, h, side)) if max(h, w) != side else rgb)
    return images


def fit_probe(pos: np.ndarray, neg: np.ndarray, l2: float = 1e-2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean, scale, weights+bias) of a logistic regression on standardised features.

    ``pos`` (N, D) and ``neg`` (M, D) are feature rows; the logit of features ``f`` is
    ``((f - mean) / scale) @ w[:-1] + w[-1]`` (see :func:`probe_logits`), positive towards ``pos``.
    """
    import torch

    x = np.concatenate([pos, neg])
    mean, scale = x.mean(0), x.std(0) + 1e-6
    xt = torch.tensor((x - mean) / scale, dtype=torch.float64)
    yt = torch.tensor(np.r_[np.ones(len(pos)), np.zeros(len(neg))], dtype=torch.float64)
    w = torch.zeros(xt.shape[1] + 1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w], max_iter=500, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        logits = xt @ w[:-1] + w[-1]
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, yt) + l2 * (w[:-1] ** 2).sum() / 2
        loss.backward()
        return loss

    opt.step(closure)
    return mean, scale, w.detach().numpy()


def probe_logits(features: np.ndarray, mean: np.ndarray, scale: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The probe's logit of each feature row (N, D) -> (N,): 0 undecided, positive reference-like."""
    return ((features - mean) / scale) @ w[:-1] + w[-1]


def probe_report(refs: Path, photos: Path, outputs: list[Path], *, limit: int | None = 1500,
                 extractor=None, progress: bool = False) -> list[str]:
    """Fit the probe on up to ``limit`` training ``refs`` against training ``photos`` (every 5th
    held back to report its own balanced accuracy) and score each folder of ``outputs``; returns
    the report's lines. ``extractor``: a :class:`toonforge.metrics.features.FeatureExtractor`
    (default: ImageNet MobileNetV2, the FD-MNv2 features)."""
    from .features import create_extractor, extract_features

    extractor = extractor or create_extractor("mnv2")
    feats = {name: extract_features(extractor, load_folder(folder, limit), progress=progress)
             for name, folder in (("refs", refs), ("photos", photos))}
    if min(len(v) for v in feats.values()) < 5:
        from ..errors import InputError

        raise InputError(f"the probe needs at least 5 images in each of {refs} and {photos}")
    held = {k: v[::5] for k, v in feats.items()}
    fit = {k: np.delete(v, np.s_[::5], axis=0) for k, v in feats.items()}
    mean, scale, w = fit_probe(fit["refs"], fit["photos"])

    def logits(f: np.ndarray) -> np.ndarray:
        return probe_logits(f, mean, scale, w)

    acc = (np.mean(logits(held["refs"]) > 0) + np.mean(logits(held["photos"]) < 0)) / 2
    lines = [f"probe: {len(fit['refs'])} references vs {len(fit['photos'])} photos; balanced accuracy on "
             f"{len(held['refs'])} + {len(held['photos'])} left out: {acc:.3f}; mean logit there: references "
             f"{logits(held['refs']).mean():+.2f}, photos {logits(held['photos']).mean():+.2f}"]
    for folder in outputs:
        z = logits(extract_features(extractor, load_folder(folder, None)))
        lines.append(f"{folder}: mean logit {z.mean():+.2f} (median {np.median(z):+.2f}), classified as "
                     f"references {100 * np.mean(z > 0):.1f}% of {len(z)}")
    return lines


def write_probe(refs: Path, photos: Path, eval_out: Path) -> Path:
    """The probe's scores of every style's outputs in ``eval_out/outputs`` (a ``toonforge eval``
    folder) written to ``eval_out/probe.txt`` (and printed); returns that path."""
    from ..io.files import atomic_write_text

    folders = sorted(p for p in (eval_out / "outputs").iterdir() if p.is_dir())
    text = "\n".join(probe_report(refs, photos, folders)) + "\n"
    print(text, end="")
    return atomic_write_text(eval_out / "probe.txt", text)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outputs", type=Path, nargs="+", help="folders of stylized outputs to score")
    ap.add_argument("--refs", type=Path, required=True, help="training style references")
    ap.add_argument("--photos", type=Path, required=True, help="training photos")
    ap.add_argument("--limit", type=int, default=1500, help="at most this many images per training set")
    args = ap.parse_args(argv)
    print("\n".join(probe_report(args.refs, args.photos, args.outputs, limit=args.limit, progress=True)))


if __name__ == "__main__":
    main()
