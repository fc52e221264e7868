"""Landmark-driven face reshaping: larger eyes, a smaller nose and mouth, a narrower lower face.

A texture translator (DCT-Net and the students distilled from it) keeps every pixel where it
was, so it cannot give a face anime's proportions. A style may therefore carry a
:class:`ReshapeSpec`; the stylizer then resamples each stylized face crop through a smooth
warp built from the face's own five landmarks (eyes, nose tip, mouth corners, in crop pixels).

The warp is a backward map ``src = p + offset(p)``: output pixel ``p`` takes its value from
``src`` (bilinear). It is the sum of parts, each zero away from its own region, so the crop's
border (where it is feathered back into the photo) never moves. Offsets are built in the face's
own frame: ``x`` along the eye line, ``y`` down the face.

* **eye lenses**: around each eye centre ``c``, ``src = c + (p - c) * (1 - k * (1 - u^2)^2)``
  with ``u = |p - c| / R`` (0 for ``u >= 1``) and ``k = 1 - 1 / eyes``: the eye is magnified
  ``eyes`` times at its centre, falling smoothly to no change at radius ``R``. With
  ``eye_height`` above 1 the vertical factor is ``eyes * eye_height`` (``k_y = 1 - 1 / (eyes *
  eye_height)``): taller eyes, as anime draws them;
* **nose and mouth lenses**: the same, isotropic, around the nose tip with ``nose`` and the
  mouth's centre with ``mouth`` (below 1 shrinks them);
* **jaw squeeze**: ``src_x = x + jaw * v(y) * x * (1 - x^2 / X^2)^2`` for ``|x| < X`` (x
  measured from the face's midline, ``X`` = 1.55 eye distances, 1.3 for the chin): sampling
  from further out pulls the cheeks and jaw towards the midline; ``v`` rises from 0 at the eyes to 1 at the
  mouth and falls back to 0 at the chin, which keeps its point;
* **chin squeeze**: the same squeeze with ``chin``, but ``v`` is 0 down to the mouth and rises
  below it, so the jaw line narrows towards a pointed chin while the mouth and cheeks stay.

Each part is one-to-one for the allowed parameter ranges (a magnifying lens's Jacobian
determinant is at least ``(1 - k_x)(1 - k_y)``, a shrinking one's radial slope at least
``1 - 0.8 |k|``, and the squeezes are increasing along their axis), so no pixel folds over
another; ``tests/test_reshape.py`` checks the Jacobian of all parts at their extremes together
on real-sized crops.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

import cv2
import numpy as np

from ..errors import InputError
from .paste import smoothstep
from .types import five_points_f64

__all__ = ["RESHAPE_LIMITS", "ReshapeSpec", "reshape_maps", "warp_crop", "warp_grid"]

Array = TypeVar("Array")  # a NumPy float array or a torch tensor

# Allowed ranges: wide enough for caricature, narrow enough that nothing folds. The eye lenses
# (radius at most half the eye distance) never overlap each other.
RESHAPE_LIMITS: dict[str, tuple[float, float]] = {
    "eyes": (1.0, 2.0),
    "eye_radius": (0.2, 0.5),
    "eye_height": (1.0, 1.5),
    "nose": (0.7, 1.0),
    "mouth": (0.7, 1.0),
    "jaw": (0.0, 0.3),
    "chin": (0.0, 0.3),
}
_SHRINKING = ("nose", "mouth")  # the parameters whose extreme is their lower limit


@dataclass(frozen=True)
class ReshapeSpec:
    """How a style reshapes faces.

    Attributes:
        eyes: magnification at each eye centre (1 = none).
        eye_radius: radius of each eye lens, as a fraction of the distance between the eyes.
        eye_height: the eye's vertical magnification over its horizontal one (1 = round lens;
            with ``eyes`` 1 it stretches the eyes vertically only).
        nose: magnification at the nose tip (below 1 makes it smaller).
        mouth: magnification at the mouth's centre (below 1 makes it smaller).
        jaw: strength of the squeeze of cheeks and jaw towards the midline (0 = none).
        chin: strength of the squeeze of the jaw line below the mouth (0 = none).
    """

    eyes: float = 1.0
    eye_radius: float = 0.45
    eye_height: float = 1.0
    nose: float = 1.0
    mouth: float = 1.0
    jaw: float = 0.0
    chin: float = 0.0

    def __post_init__(self) -> None:
        for name, (lo, hi) in RESHAPE_LIMITS.items():
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or not lo <= value <= hi:
                raise InputError(f"reshape {name} must be a number in [{lo}, {hi}], got {value!r}")

    @classmethod
    def from_dict(cls, d: Any, where: str = "reshape") -> ReshapeSpec:
        """Parse ``{"eyes": 1.3, ...}``; unknown keys and bad values raise a one-line InputError."""
        if not isinstance(d, dict):
            raise InputError(f"bad {where}: expected an object such as {{\"eyes\": 1.3}}")
        unknown = sorted(set(d) - set(RESHAPE_LIMITS))
        if unknown:
            raise InputError(f"bad {where}: unknown key(s) {', '.join(unknown)}; "
                             f"known: {', '.join(RESHAPE_LIMITS)}")
        try:
            return cls(**{k: float(v) for k, v in d.items()})
        except (TypeError, ValueError):
            raise InputError(f"bad {where}: every value must be a number") from None
        except InputError as exc:
            raise InputError(f"bad {where}: {exc}") from None

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    @property
    def is_identity(self) -> bool:
        return (self.eyes == 1.0 and self.eye_height == 1.0 and self.nose == 1.0 and self.mouth == 1.0
                and self.jaw == 0.0 and self.chin == 0.0)

    def scaled(self, t: float) -> ReshapeSpec:
        """The same reshape at a fraction ``t`` in [0, 1] of its strength (t=0: identity)."""
        t = min(max(float(t), 0.0), 1.0)
        return ReshapeSpec(eyes=self.eyes ** t, eye_radius=self.eye_radius, eye_height=self.eye_height ** t,
                           nose=self.nose ** t, mouth=self.mouth ** t, jaw=self.jaw * t, chin=self.chin * t)

    @classmethod
    def extreme(cls) -> ReshapeSpec:
        """Every part at the end of its range that moves pixels most (for tests and checks)."""
        return cls(**{k: (lo if k in _SHRINKING else hi) for k, (lo, hi) in RESHAPE_LIMITS.items()})


# The warp's arithmetic below uses only operators, indexing and ``.clip``, so the same code runs
# on NumPy arrays (the stylizer) and on torch tensors (``export.reshape_onnx`` traces it to ONNX).
def _lens(fx: Array, fy: Array, centre: Array, radius: Array, scale_x: float,
          scale_y: float) -> tuple[Array, Array]:
    """Offsets along the face's axes of a lens magnifying ``scale_x`` by ``scale_y`` times at
    ``centre`` (face-frame coordinates, like ``fx`` and ``fy``)."""
    rx, ry = fx - centre[0], fy - centre[1]
    u2 = ((rx * rx + ry * ry) / (radius * radius)).clip(None, 1.0)
    falloff = (1.0 - u2) ** 2  # src = c + r * (1 - k * falloff), per axis
    return -rx * (1.0 - 1.0 / scale_x) * falloff, -ry * (1.0 - 1.0 / scale_y) * falloff


def _squeeze(fx: Array, weight: Array, reach: Array) -> Array:
    """Offset along the eye line pulling content towards the midline ``fx = 0``, by ``weight``
    (0..0.3) times ``fx`` near it, fading to none at ``|fx| = reach``."""
    v = (fx * fx / (reach * reach)).clip(None, 1.0)
    return weight * fx * (1.0 - v) ** 2


def warp_grid(px: Array, py: Array, points: Array, spec: ReshapeSpec) -> tuple[Array, Array]:
    """Where each output pixel samples the input: :func:`reshape_maps` for any pixel grid.

    Args:
        px, py: output pixel coordinates (any equal shapes), NumPy float arrays or torch tensors.
        points: ``(5, 2)`` landmarks in the same pixel frame (the order of ``five_points``), of
            the same kind as ``px``.
        spec: the reshape.

    Returns:
        ``(src_x, src_y)`` shaped like ``px``.
    """
    eye_l, eye_r = points[0], points[1]
    mid = (eye_l + eye_r) * 0.5
    d = eye_r - eye_l
    iod = ((d * d).sum() ** 0.5).clip(1.0, None)
    # The face's own frame: x along the eye line, y down the face, origin between the eyes (the
    # crop is upright, but a face need not be exactly so).
    ax0, ax1 = d[0] / iod, d[1] / iod

    def frame(x, y):
        return (x - mid[0]) * ax0 + (y - mid[1]) * ax1, (y - mid[1]) * ax0 - (x - mid[0]) * ax1

    fx, fy = frame(px, py)
    eyes = [frame(p[0], p[1]) for p in (eye_l, eye_r)]
    nose = frame(points[2, 0], points[2, 1])
    mouth = frame((points[3, 0] + points[4, 0]) * 0.5, (points[3, 1] + points[4, 1]) * 0.5)
    along = fx * 0.0  # offsets in the face frame
    down = fy * 0.0
    lenses = [(nose, 0.35, spec.nose, spec.nose), (mouth, 0.4, spec.mouth, spec.mouth)]
    lenses += [(eye, spec.eye_radius, spec.eyes, spec.eyes * spec.eye_height) for eye in eyes]
    for centre, radius, scale_x, scale_y in lenses:
        if scale_x != 1.0 or scale_y != 1.0:
            ox, oy = _lens(fx, fy, centre, radius * iod, scale_x, scale_y)
            along = along + ox
            down = down + oy
    mouth_y = mouth[1].clip(1.0, None)
    reach = 1.55 * iod  # no squeeze farther than this from the midline
    fade = 1.0 - smoothstep((fy - 1.1 * mouth_y) / (0.4 * mouth_y))  # gone at the chin
    if spec.jaw > 0.0:
        rise = smoothstep(fy / mouth_y)  # 0 at the eyes, 1 at the mouth
        along = along + _squeeze(fx, spec.jaw * rise * fade, reach)
    if spec.chin > 0.0:
        below = smoothstep((fy - mouth_y) / (0.3 * mouth_y))  # 0 down to the mouth line
        along = along + _squeeze(fx, spec.chin * below * fade, 0.85 * reach)  # the jaw below the mouth is narrower
    return px + along * ax0 - down * ax1, py + along * ax1 + down * ax0


def reshape_maps(landmarks: np.ndarray, size: int, spec: ReshapeSpec) -> tuple[np.ndarray, np.ndarray]:
    """The backward sampling maps of the warp for one face crop.

    Args:
        landmarks: ``(68, 2)`` or ``(5, 2)`` face landmarks in crop pixels (pixel centres at
            integers), e.g. ``AlignedFace.landmarks_in_crop``.
        size: side of the square crop in pixels.
        spec: the reshape.

    Returns:
        ``(map_x, map_y)``, each ``(size, size)`` float32: output pixel ``(row, col)`` samples
        the input at ``(map_x[row, col], map_y[row, col])``, as ``cv2.remap`` takes them.
    """
    grid = np.arange(size, dtype=np.float64)
    px, py = np.meshgrid(grid, grid)
    if spec.is_identity:
        return px.astype(np.float32), py.astype(np.float32)
    map_x, map_y = warp_grid(px, py, five_points_f64(landmarks), spec)
    return map_x.astype(np.float32), map_y.astype(np.float32)


def warp_crop(crop: np.ndarray, maps: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Resample an ``(S, S, C)`` ``uint8`` crop through :func:`reshape_maps` (bilinear)."""
    return cv2.remap(crop, maps[0], maps[1], interpolation=cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REFLECT_101)
