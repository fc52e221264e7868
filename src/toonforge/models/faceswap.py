"""The shared-encoder face swap (the reference's "face video", method one): one encoder, one decoder per identity.

Training reconstructs each identity's aligned faces through the shared encoder and that identity's
decoder; swapping decoders at test time draws identity B's face with the pose and expression of A's.
Shapes: faces (N, 3, size, size) in [-1, 1] -> code (N, code_dim, size/16, size/16) -> (N, 3, size, size)
in [-1, 1] (tanh). The file is one ``.safetensors`` with the config and identity names in its header.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from ..errors import CheckpointError, InputError
from ..io.checkpoints import read_formatted_safetensors
from ..io.files import atomic_output

FORMAT = "toonforge-faceswap-1"


def _down(cin: int, cout: int) -> nn.Module:
    return nn.Sequential(nn.Conv2d(cin, cout, 4, stride=2, padding=1), nn.LeakyReLU(0.1))


def _up(cin: int, cout: int) -> nn.Module:
    # pixel-shuffle upsampling, as the faceswap autoencoders use (no checkerboard from transposed convs)
    return nn.Sequential(nn.Conv2d(cin, cout * 4, 3, padding=1), nn.LeakyReLU(0.1), nn.PixelShuffle(2))


class FaceSwapAE(nn.Module):
    """Shared encoder and ``len(identities)`` decoders.

    Args:
        size: face side, a power of two >= 32. width: channels after the first downsampling (doubling
        per level, at most 8 * width). code_dim: channels of the bottleneck at size/16.
        identities: one name per decoder (e.g. the two people).
    """

    def __init__(self, size: int = 64, width: int = 32, code_dim: int = 128,
                 identities: tuple[str, ...] | list[str] = ("a", "b")) -> None:
        super().__init__()
        if size < 32 or size & (size - 1):
            raise ValueError(f"size must be a power of two >= 32, got {size}")
        if len(identities) < 2 or len(set(identities)) != len(identities):
            raise ValueError(f"need at least two distinct identities, got {list(identities)}")
        self.config = {"size": size, "width": width, "code_dim": code_dim, "identities": list(identities)}
        self.size, self.identities = size, list(identities)
        chans = [min(width * 2**i, 8 * width) for i in range(4)]  # size/2 .. size/16
        enc, cin = [], 3
        for c in chans:
            enc.append(_down(cin, c))
            cin = c
        enc.append(nn.Conv2d(cin, code_dim, 3, padding=1))
        self.encoder = nn.Sequential(*enc)
        self.decoders = nn.ModuleList([self._decoder(code_dim, chans) for _ in identities])

    @staticmethod
    def _decoder(code_dim: int, chans: list[int]) -> nn.Module:
        layers, cin = [], code_dim
        for c in reversed(chans):
            layers.append(_up(cin, c))
            cin = c
        layers += [nn.Conv2d(cin, 3, 3, padding=1), nn.Tanh()]
        return nn.Sequential(*layers)

    def index(self, identity: str | int) -> int:
        if isinstance(identity, int):
            if not 0 <= identity < len(self.identities):
                raise InputError(f"identity {identity} is out of range 0..{len(self.identities) - 1}")
            return identity
        if identity not in self.identities:
            raise InputError(f"unknown identity {identity!r}; this model has {', '.join(self.identities)}")
        return self.identities.index(identity)

    def forward(self, faces: torch.Tensor, identity: str | int) -> torch.Tensor:
        """faces (N, 3, size, size) in [-1, 1] drawn as ``identity``: (N, 3, size, size) in [-1, 1]."""
        if faces.ndim != 4 or faces.shape[1:] != (3, self.size, self.size):
            raise ValueError(f"expected (N, 3, {self.size}, {self.size}), got {tuple(faces.shape)}")
        return self.decoders[self.index(identity)](self.encoder(faces))


def save_faceswap(path: str | Path, net: FaceSwapAE, info: dict | None = None) -> Path:
    """Write the weights and config (and JSON ``info``) atomically as ``.safetensors``."""
    from safetensors.torch import save_file

    path = Path(path)
    tensors = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    meta = {"format": FORMAT, "config": json.dumps(net.config), "info": json.dumps(info or {})}
    with atomic_output(path) as tmp:
        save_file(tensors, str(tmp), metadata=meta)
    return path


def load_faceswap(path: str | Path) -> tuple[FaceSwapAE, dict]:
    """(model in eval mode, info) from :func:`save_faceswap`'s file; one-line CheckpointError otherwise."""
    path = Path(path)
    tensors, meta = read_formatted_safetensors(path, FORMAT, "face-swap model")
    try:
        net = FaceSwapAE(**json.loads(meta["config"]))
        net.load_state_dict(tensors)
        info = json.loads(meta.get("info", "{}"))
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{path.name}: damaged face-swap model ({str(exc).splitlines()[0]})") from None
    return net.eval(), info
