"""Validation of an unpaired photo -> style translator during training (all stage-2 trainers).

Every ``eval_every`` steps the trainer's EMA generator translates a fixed set of held-out
photos; we log
* ``val/fd``: FD-MNv2 between the translations and held-out style images (features of the
  style images computed once);
* ``val/sharpness``: mean Laplacian sharpness of the translations (0-255 scale);
* ``val/content``: mean L1 between translation and photo on [-1, 1] (how far the output
  strays from its input: near 0 means the generator barely stylizes);
* ``val/fd_input``: FD-MNv2 between the untranslated photos and the style images, the
  baseline ``val/fd`` should fall below (computed once).
The best ``val/fd`` so far is tracked so a trainer can keep that snapshot.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import torch

from ..metrics.features import FeatureExtractor, create_extractor, extract_features
from ..metrics.frechet import fd_between
from ..metrics.sharpness import mean_sharpness
from ..models.image_output import generator_output

__all__ = ["TranslationValidator", "to_uint8_images"]

Translate = Callable[[torch.Tensor], object]


def to_uint8_images(x: torch.Tensor) -> list[np.ndarray]:
    """(N, 3, H, W) float in [-1, 1] -> N arrays (H, W, 3) uint8."""
    x = ((x.detach().clamp(-1, 1) + 1) * 127.5).round().byte()
    return list(x.permute(0, 2, 3, 1).cpu().numpy())


class TranslationValidator:
    """Scores a translator on fixed held-out photos against held-out style images.

    photos: (size, size, 3) uint8 RGB arrays, the inputs (at most a few hundred).
    styles: (size, size, 3) uint8 RGB arrays, the references for FD.
    extractor: the FD feature extractor (default ImageNet MobileNetV2; tests pass a tiny one).
    """

    def __init__(self, photos: Sequence[np.ndarray], styles: Sequence[np.ndarray], *,
                 extractor: FeatureExtractor | None = None, batch_size: int = 16,
                 device: str | torch.device = "cpu") -> None:
        self.photos = [np.ascontiguousarray(p) for p in photos]
        self.styles = [np.ascontiguousarray(s) for s in styles]
        self.batch_size, self.device = int(batch_size), torch.device(device)
        self._extractor = extractor
        self._style_feats: np.ndarray | None = None
        self._fd_input: float | None = None
        self.best_fd, self.best_step = math.inf, -1

    @property
    def extractor(self) -> FeatureExtractor:
        if self._extractor is None:
            self._extractor = create_extractor("mnv2", device=self.device)
        return self._extractor

    @torch.no_grad()
    def translate_all(self, translate: Translate) -> list[np.ndarray]:
        """Run ``translate`` over the photos in batches: (N, 3, S, S) in [-1, 1] -> the same, or a
        tuple led by it (a stage-2 generator module can be passed as is)."""
        outs: list[np.ndarray] = []
        for i in range(0, len(self.photos), self.batch_size):
            chunk = np.stack(self.photos[i:i + self.batch_size])
            x = torch.from_numpy(chunk).permute(0, 3, 1, 2).float().div(127.5).sub(1).to(self.device)
            outs += to_uint8_images(generator_output(translate(x)))
        return outs

    def __call__(self, translate: Translate, step: int) -> dict[str, float]:
        """The metrics of ``translate`` at ``step``; updates ``best_fd`` / ``best_step``."""
        if not self.photos:
            return {}
        outs = self.translate_all(translate)
        stats = {"val/sharpness": float(mean_sharpness(outs))}
        diffs = [np.abs(o.astype(np.float32) - p.astype(np.float32)).mean() / 127.5
                 for o, p in zip(outs, self.photos, strict=True)]
        stats["val/content"] = float(np.mean(diffs))
        if len(self.styles) >= 2 and len(outs) >= 2:
            if self._style_feats is None:
                self._style_feats = extract_features(self.extractor, self.styles)
                self._fd_input = float(fd_between(extract_features(self.extractor, self.photos), self._style_feats))
            stats["val/fd_input"] = float(self._fd_input)
            fd = float(fd_between(extract_features(self.extractor, outs), self._style_feats))
            stats["val/fd"] = fd
            if fd < self.best_fd:
                self.best_fd, self.best_step = fd, step
            stats["val/best_fd"] = self.best_fd
        return stats

    def improved_at(self, step: int) -> bool:
        """Whether the evaluation at ``step`` set a new best FD."""
        return self.best_step == step
