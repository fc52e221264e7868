"""Info-StyleGAN training: StyleGAN2 plus an InfoGAN categorical code and a code head on D.

Every fake is drawn with a uniformly random code ``c`` in ``0..K-1`` put into z (see
:mod:`toonforge.stylegan.info_codes`; both codes of a style-mixed fake carry the same ``c``). A small head
``Q`` on the discriminator's last hidden features (the trunk is shared, as the reference describes:
"the classifier and the discriminator share most parameters, only the last layers differ") predicts
``c``; the mutual-information lower bound of InfoGAN for a uniform categorical code is, up to the
constant ``H(c)``, ``-CE(Q(x), c)``, so ``lambda_info * CE`` is added to D's loss (training Q and the
trunk on fakes) and to G's loss (G makes its codes recoverable). ``info/acc`` logs how often Q's guess
is right on the D step's fakes (chance is 1/K).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InputError
from ..models.stylegan2.layers import EqualLinear
from ..stylegan.info_codes import META_KEY, with_code
from .stylegan_task import StyleGANTask, StyleGANTrainConfig


class CodeHead(nn.Module):
    """Q: D's hidden features (N, width) -> code logits (N, K)."""

    def __init__(self, width: int, k: int) -> None:
        super().__init__()
        self.config = {"width": width, "k": k}
        self.net = nn.Sequential(EqualLinear(width, width, activation=True), EqualLinear(width, k))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.net(h)


class InfoStyleGANTask(StyleGANTask):
    """:class:`StyleGANTask` with ``info_codes`` K >= 2 codes and the weight ``lambda_info``."""

    name = "info-stylegan2"

    def __init__(self, cfg: StyleGANTrainConfig, info_codes: int, lambda_info: float = 1.0,
                 extractor: object | None = None) -> None:
        if info_codes < 2 or lambda_info < 0:
            raise InputError(f"need --info-codes >= 2 and --lambda-info >= 0, got {info_codes}, {lambda_info}")
        super().__init__(cfg, extractor)
        if info_codes > self.cfg.style_dim:
            raise InputError(f"--info-codes {info_codes} exceeds the latent width {self.cfg.style_dim}")
        self.k, self.lambda_info = int(info_codes), float(lambda_info)
        self._codes: torch.Tensor | None = None

    def build(self, device: torch.device) -> None:
        super().build(device)
        self.Q = CodeHead(self.D.channels[4], self.k).train().to(device)
        lr = self.opt_d.param_groups[0]["lr"]
        self.opt_d.add_param_group({"params": list(self.Q.parameters()), "lr": lr})
        self._d_params = self._d_params + list(self.Q.parameters())

    def modules(self) -> dict[str, nn.Module]:
        return {**super().modules(), "Q": self.Q}

    def config(self) -> dict:
        return {**super().config(), "info_codes": self.k, "lambda_info": self.lambda_info}

    def _ws(self, n: int) -> torch.Tensor:
        self._codes = torch.randint(self.k, (n,), device=self.device)
        return super()._ws(n)

    def _draw_z(self, n: int) -> torch.Tensor:
        return with_code(super()._draw_z(n), self._codes, self.k)

    def _judge_fake(self, fake: torch.Tensor):
        logits, h = self.D.forward_with_features(fake)
        code_logits = self.Q(h)
        ce = F.cross_entropy(code_logits, self._codes)
        acc = float((code_logits.detach().argmax(1) == self._codes).float().mean())
        return logits, self.lambda_info * ce, {"loss/info": float(ce.detach()), "info/acc": acc}

    def _export_metadata(self) -> dict:
        return {"info": {META_KEY: self.k}}


@torch.no_grad()
def code_accuracy(G, D, Q: CodeHead, n: int = 64, seed: int = 0) -> float:
    """How often Q recovers the code of G's images: n samples per code, seeded z (chance is 1/K)."""
    k = Q.config["k"]
    hits = 0
    for c in range(k):
        z = with_code(G.sample_z(n, seed=seed + c), torch.full((n,), c), k)
        _, h = D.forward_with_features(G(z, randomize_noise=False))
        hits += int((Q(h).argmax(1) == c).sum())
    return hits / (n * k)
