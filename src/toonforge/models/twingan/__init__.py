"""TwinGAN: a shared encoder and a progressive generator whose normalization has one set of
scale/shift parameters per domain (photo, style)."""

from .domain_norm import DOMAINS, NORM_KINDS, DomainNorm, domain_index
from .network import TwinGAN, resolutions

__all__ = ["DOMAINS", "NORM_KINDS", "DomainNorm", "TwinGAN", "domain_index", "resolutions"]
