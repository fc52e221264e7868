"""Training the shared-encoder face swap on two identities (on the shared loop: resume, EMA, logs).

Data: each identity's photos are detected and aligned FFHQ-style once, at the model's size. Every item
draws one face per identity and augments it like the faceswap autoencoders do: a random similarity
transform and mirror give the target, and a smooth random warp of that target (a coarse grid of
displacements, upsampled) gives the input, so a decoder learns to draw its person's face, not to copy
pixels. Loss: ``L1 + lambda_mse * MSE`` of each identity's reconstruction through its own decoder (both in
one step, with one optimizer). The exported model (EMA weights) is ``<run>/faceswap.safetensors``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InputError
from ..models.faceswap import FaceSwapAE
from ..models.faceswap_file import save_faceswap
from .paired_data import item_rng, to_tensor
from .task import Phase, TrainingTask

EXPORT = "faceswap.safetensors"


@dataclass
class FaceSwapConfig:
    """size, width, code_dim: the model; lr: Adam; lambda_mse: weight of the MSE term beside L1;
    rotate (degrees), zoom (fraction), shift (fraction of the side): the target's random similarity
    transform; warp: the input's random warp in px at the model size; items: dataset items per epoch."""

    size: int = 64
    width: int = 32
    code_dim: int = 128
    lr: float = 5e-4
    lambda_mse: float = 1.0
    rotate: float = 10.0
    zoom: float = 0.05
    shift: float = 0.05
    warp: float = 2.5
    items: int = 512
    seed: int = 0


def random_similarity(face: np.ndarray, cfg: FaceSwapConfig, rng: np.random.Generator) -> np.ndarray:
    """(S, S, 3) uint8 -> the same face rotated, zoomed, shifted and maybe mirrored (edges replicated)."""
    s = face.shape[0]
    m = cv2.getRotationMatrix2D((s / 2, s / 2), float(rng.uniform(-cfg.rotate, cfg.rotate)),
                                float(1 + rng.uniform(-cfg.zoom, cfg.zoom)))
    m[:, 2] += rng.uniform(-cfg.shift, cfg.shift, 2) * s
    out = cv2.warpAffine(face, m, (s, s), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out[:, ::-1].copy() if rng.random() < 0.5 else out


def random_warp(face: np.ndarray, amount: float, rng: np.random.Generator, grid: int = 5) -> np.ndarray:
    """A smooth random warp: a (grid x grid) field of displacements (std ``amount`` px), upsampled."""
    s = face.shape[0]
    field = rng.normal(0, amount, (grid, grid, 2)).astype(np.float32)
    field = cv2.resize(field, (s, s), interpolation=cv2.INTER_CUBIC)
    ys, xs = np.mgrid[0:s, 0:s].astype(np.float32)
    return cv2.remap(face, xs + field[..., 0], ys + field[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


class TwoFaces(torch.utils.data.Dataset):
    """Items ``{"in_a", "target_a", "in_b", "target_b"}``: (3, S, S) float32 in [-1, 1] each."""

    def __init__(self, faces_a: list[np.ndarray], faces_b: list[np.ndarray], cfg: FaceSwapConfig) -> None:
        if not faces_a or not faces_b:
            raise InputError("each identity needs at least one face")
        self.faces, self.cfg = (faces_a, faces_b), cfg

    def __len__(self) -> int:
        return self.cfg.items

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        rng = item_rng(self.cfg.seed, index)
        out = {}
        for side, faces in zip("ab", self.faces):
            target = random_similarity(faces[int(rng.integers(len(faces)))], self.cfg, rng)
            out[f"in_{side}"] = to_tensor(random_warp(target, self.cfg.warp, rng))
            out[f"target_{side}"] = to_tensor(target)
        return out


def reconstruction_loss(pred: torch.Tensor, target: torch.Tensor, lambda_mse: float) -> torch.Tensor:
    """``mean |pred - target| + lambda_mse * mean (pred - target)^2`` (images in [-1, 1])."""
    return F.l1_loss(pred, target) + lambda_mse * F.mse_loss(pred, target)


class FaceSwapTask(TrainingTask):
    """Both identities' reconstructions in one phase; EMA of the whole model is exported."""

    name = "faceswap"

    def __init__(self, faces_a: list[np.ndarray], faces_b: list[np.ndarray], identities: tuple[str, str],
                 cfg: FaceSwapConfig) -> None:
        if any(f.shape != (cfg.size, cfg.size, 3) for f in [*faces_a, *faces_b]):
            raise InputError(f"faces must be aligned to {cfg.size} px")
        self.cfg, self.identities = cfg, identities
        self.data = TwoFaces(faces_a, faces_b, cfg)
        self.ema: dict[str, nn.Module] = {}

    def build(self, device: torch.device) -> None:
        c = self.cfg
        self.net = FaceSwapAE(c.size, c.width, c.code_dim, list(self.identities)).train().to(device)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=c.lr, betas=(0.5, 0.999))

    def modules(self) -> dict[str, nn.Module]:
        return {"net": self.net}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"net": self.opt}

    def dataset(self) -> torch.utils.data.Dataset:
        return self.data

    def phases(self) -> list[Phase]:
        return [Phase("AE", self._step)]

    def ema_modules(self) -> list[str]:
        return ["net"]

    def set_ema(self, ema: dict[str, nn.Module]) -> None:
        self.ema = ema

    def config(self) -> dict:
        return asdict(self.cfg) | {"identities": list(self.identities)}

    def _step(self, batch: dict[str, torch.Tensor], step: int) -> dict[str, float]:
        losses = [reconstruction_loss(self.net(batch[f"in_{s}"], i), batch[f"target_{s}"], self.cfg.lambda_mse)
                  for i, s in enumerate("ab")]
        loss = losses[0] + losses[1]
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return {"loss/a": float(losses[0].detach()), "loss/b": float(losses[1].detach())}

    def on_checkpoint(self, run_dir: Path, step: int) -> None:
        net = self.ema.get("net", self.net)
        save_faceswap(run_dir / EXPORT, net, {"step": step, "config": self.config()})
