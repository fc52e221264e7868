"""Face swapping with the shared-encoder model, with the interface the video pipeline drives.

:class:`FaceSwapper` aligns each face FFHQ-style at the model's size, encodes it with the shared encoder,
draws it with the target identity's decoder, matches the drawing's colour statistics to the original
crop's (per channel, inside the paste mask, so the swapped face takes the frame's light), and pastes it
back through a feathered central mask with the inverse warp. ``stylize_batch`` / ``stylize_crops`` /
``detector`` / ``head_resolution`` are what :func:`toonforge.pipelines.video.stylize_video` calls, so
a video is swapped with the existing decoding, face tracking, batching and atomic encoding.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..face.align import align_face
from ..face.detector import FaceDetector, create_detector
from ..face.paste import feather_mask, paste_back
from ..face.types import Face
from .stylizer import StylizeResult
from .tensors import blend, from_network, to_network

MASK_MARGIN, MASK_BLUR = 0.2, 0.08  # the face sits in the middle of an FFHQ crop; hair and background stay


def match_colour(drawn: np.ndarray, original: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``drawn`` (S, S, 3) uint8 with each channel's mean and std, weighted by ``mask`` (S, S) in [0, 1],
    moved to those of ``original``."""
    w = mask[..., None].astype(np.float32)
    total = float(w.sum()) or 1.0
    d, o = drawn.astype(np.float32), original.astype(np.float32)
    mu_d, mu_o = (d * w).sum((0, 1)) / total, (o * w).sum((0, 1)) / total
    sd_d = np.sqrt((((d - mu_d) ** 2) * w).sum((0, 1)) / total) + 1e-3
    sd_o = np.sqrt((((o - mu_o) ** 2) * w).sum((0, 1)) / total)
    return np.clip((d - mu_d) * (sd_o / sd_d) + mu_o + 0.5, 0, 255).astype(np.uint8)


class FaceSwapper:
    """Swap every face into identity ``to`` of a trained face-swap model.

    Args:
        model: a ``.safetensors`` file from ``toonforge train-faceswap``.
        to: the identity whose decoder draws the faces (a name of the model, or its index).
        detector: detector name, a detector object, or None (then faces must be given).
        colour_match: match the drawn face's colour statistics to the original's.
        device: "cpu" or "cuda".
    """

    def __init__(self, model: str | Path, to: str | int = 1, *, detector: str | FaceDetector | None = "dlib",
                 colour_match: bool = True, device: str = "cpu") -> None:
        from ..models.faceswap_file import load_faceswap

        self.net, self.info = load_faceswap(model)
        self.net.to(device)
        self.to, self.device, self.colour_match = self.net.index(to), device, colour_match
        self.detector = create_detector(detector) if isinstance(detector, str) else detector
        self.mask = feather_mask(self.net.size, margin=MASK_MARGIN, blur=MASK_BLUR)

    @property
    def head_resolution(self) -> int:
        return self.net.size

    def swap_crops(self, crops: list[np.ndarray]) -> list[np.ndarray]:
        """Aligned (S, S, 3) uint8 crops at the model size -> the target identity's faces, same shape."""
        import torch

        if not crops:
            return []
        with torch.no_grad():
            x = torch.from_numpy(to_network(list(crops))).to(self.device)
            drawn = from_network(self.net(x, self.to).float().cpu().numpy())
        if self.colour_match:
            drawn = [match_colour(d, c, self.mask) for d, c in zip(drawn, crops)]
        return drawn

    def stylize_crops(self, crops: list[np.ndarray], *, strength: float = 1.0) -> list[np.ndarray]:
        """Square (S, S, 3) uint8 crops (any S) -> swapped crops of the same size, blended by ``strength``
        (the video pipeline's head-only mode, for frames without a face)."""
        drawn = self.swap_crops([self._fit(c) for c in crops])
        return [blend(c, self._fit(d, c.shape[0]), strength) for c, d in zip(crops, drawn)]

    def _fit(self, crop: np.ndarray, size: int | None = None) -> np.ndarray:
        from ..io.images import resize_rgb

        size = size or self.net.size
        return crop if crop.shape[0] == size else resize_rgb(crop, (size, size))

    def stylize_batch(self, frames: list[np.ndarray], faces: list[list[Face]], *, strength: float = 1.0,
                      head_only: bool = False) -> list[StylizeResult]:
        """Frames (H, W, 3) uint8 with their faces -> results whose ``image`` has every face swapped
        (``heads``: the swapped aligned crops)."""
        size = self.net.size
        aligned = [[align_face(rgb, f.landmarks, size) for f in fs] for rgb, fs in zip(frames, faces)]
        flat = iter(self.swap_crops([a.crop for al in aligned for a in al]))
        results = []
        for rgb, al, fs in zip(frames, aligned, faces):
            heads = [next(flat) for _ in al]
            out = rgb
            for a, h in zip(al, heads):
                out = paste_back(out, h, a.inverse, self.mask)
            results.append(StylizeResult(None if head_only else blend(rgb, out, strength), None, heads, list(fs)))
        return results
