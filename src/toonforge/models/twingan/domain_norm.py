"""Domain-specific normalization (conditional instance or batch norm), after Dumoulin et al.,
"A Learned Representation for Artistic Style" (ICLR 2017).

The features are normalized without any learned parameters, then scaled and shifted by one
``(weight, bias)`` row per domain. Everything that differs between domains in a network built
from these layers lives in their ``weight``/``bias`` rows (and, for the batch kind, in their
per-domain running statistics): swapping two rows swaps the domains.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ...errors import InputError

__all__ = ["DOMAINS", "NORM_KINDS", "DomainNorm", "domain_index"]

DOMAINS: tuple[str, ...] = ("photo", "style")
NORM_KINDS: tuple[str, ...] = ("instance", "batch")


def domain_index(domain: int | str, n_domains: int = len(DOMAINS)) -> int:
    """The row of ``domain``: an index ``0 <= i < n_domains`` or a name of :data:`DOMAINS`."""
    if isinstance(domain, str):
        if domain not in DOMAINS:
            raise InputError(f"unknown domain {domain!r}; use one of {', '.join(DOMAINS)}")
        domain = DOMAINS.index(domain)
    if isinstance(domain, bool) or not isinstance(domain, int) or not 0 <= domain < n_domains:
        raise InputError(f"domain must be an integer in [0, {n_domains}) or a name, got {domain!r}")
    return domain


class DomainNorm(nn.Module):
    """x (N, C, H, W) -> normalize(x) * weight[d] + bias[d], for the domain d of the whole batch.

    ``kind="instance"``: per-sample, per-channel statistics over (H, W) (no running state).
    ``kind="batch"``: batch statistics in training, per-domain running averages in eval mode
    (``running_mean``/``running_var`` are (n_domains, C)).
    ``weight``/``bias``: (n_domains, C) parameters, initialised to 1 and 0.
    """

    def __init__(self, channels: int, n_domains: int = len(DOMAINS), kind: str = "instance",
                 eps: float = 1e-5, momentum: float = 0.1) -> None:
        super().__init__()
        if kind not in NORM_KINDS:
            raise InputError(f"norm must be one of {', '.join(NORM_KINDS)}, got {kind!r}")
        self.kind, self.eps, self.momentum, self.n_domains = kind, eps, momentum, n_domains
        self.weight = nn.Parameter(torch.ones(n_domains, channels))
        self.bias = nn.Parameter(torch.zeros(n_domains, channels))
        if kind == "batch":
            self.register_buffer("running_mean", torch.zeros(n_domains, channels))
            self.register_buffer("running_var", torch.ones(n_domains, channels))

    def forward(self, x: torch.Tensor, domain: int | str) -> torch.Tensor:
        d = domain_index(domain, self.n_domains)
        if self.kind == "instance":
            y = F.instance_norm(x, eps=self.eps)
        else:
            # running_mean[d] is a view: batch_norm updates the domain's row in place.
            y = F.batch_norm(x, self.running_mean[d], self.running_var[d], training=self.training,
                             momentum=self.momentum, eps=self.eps)
        return y * self.weight[d].view(1, -1, 1, 1) + self.bias[d].view(1, -1, 1, 1)

    def extra_repr(self) -> str:
        return f"{self.weight.shape[1]}, domains={self.n_domains}, kind={self.kind}"
