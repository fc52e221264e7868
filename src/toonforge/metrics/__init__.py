"""Evaluation metrics: sharpness, Fréchet distance and KID on pluggable features, identity
similarity, perceptual distance, temporal flicker and speed.

Importing this package is light: the NumPy-only metrics are imported here, while the ones
that need torch or dlib (``features``, ``perceptual``, ``identity``) load on first use of one
of their names (and dlib only when a ``FaceDescriber`` is built).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from toonforge.metrics.flicker import FlickerScore, temporal_flicker
from toonforge.metrics.frechet import fd_between, frechet_distance, gaussian_stats
from toonforge.metrics.kid import kernel_inception_distance
from toonforge.metrics.sharpness import laplacian_sharpness, mean_sharpness
from toonforge.metrics.speed import SpeedScore, measure_throughput

if TYPE_CHECKING:
    from toonforge.metrics.features import (
        FeatureExtractor,
        InceptionFID,
        MobileNetV2Pooled,
        create_extractor,
        extract_features,
    )
    from toonforge.metrics.identity import (
        SAME_PERSON_DISTANCE,
        FaceDescriber,
        IdentityScore,
        descriptor_distance,
        identity_similarity,
        score_identity,
    )
    from toonforge.metrics.perceptual import perceptual_distance, perceptual_distances

_LAZY: dict[str, str] = {
    **dict.fromkeys(["FeatureExtractor", "InceptionFID", "MobileNetV2Pooled", "create_extractor",
                     "extract_features"], "toonforge.metrics.features"),
    **dict.fromkeys(["SAME_PERSON_DISTANCE", "FaceDescriber", "IdentityScore", "descriptor_distance",
                     "identity_similarity", "score_identity"], "toonforge.metrics.identity"),
    **dict.fromkeys(["perceptual_distance", "perceptual_distances"], "toonforge.metrics.perceptual"),
}

__all__ = [
    "SAME_PERSON_DISTANCE",
    "FaceDescriber",
    "FeatureExtractor",
    "FlickerScore",
    "IdentityScore",
    "InceptionFID",
    "MobileNetV2Pooled",
    "SpeedScore",
    "create_extractor",
    "descriptor_distance",
    "extract_features",
    "fd_between",
    "frechet_distance",
    "gaussian_stats",
    "identity_similarity",
    "kernel_inception_distance",
    "laplacian_sharpness",
    "mean_sharpness",
    "measure_throughput",
    "perceptual_distance",
    "perceptual_distances",
    "score_identity",
    "temporal_flicker",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
