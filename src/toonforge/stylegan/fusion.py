"""Model fusion: per-layer interpolation, layer swapping and chaining of StyleGAN2 generators.

Two generators of one architecture (typically a *source* model, e.g. FFHQ, and a *style* model
fine-tuned from it) are merged parameter by parameter. Every state-dict key belongs to a layer of
one output resolution (:meth:`Generator.param_resolution`: 4, 8, ..., size px; noise buffers and blur
kernels included); a *schedule* maps that resolution to the weight ``w`` of generator **B**, and the
merged value is ``(1 - w) * A + w * B``. Weights of exactly 0 and 1 copy A's or B's tensor bit for bit.

Which side is which (the convention of Pinkney & Adler's "resolution dependent GAN interpolation"):
low resolutions (4-16 px) decide pose, face shape and the size of the eyes; high ones (64 px and up)
decide colour, line and texture. With the default ``b_side="fine"`` a swap at ``r`` px takes B's
layers at resolutions **>= r** and keeps A's below ``r``; ``b_side="coarse"`` flips it (B below
``r``, A from ``r`` up). So

* ``layer_swap(style, source, 32)`` is Toonify's recipe: cartoon structure (big eyes, simple shapes)
  rendered with the photo model's texture;
* ``layer_swap(source, style, 32)`` keeps the photo's geometry and identity, painted in the style's
  colours and lines (the usual choice for making paired training data).

The mapping network (``style.*``, no resolution) follows ``mapping``: ``"a"`` (default), ``"b"``,
``"blend"`` (the mean of the schedule over the synthesis layers) or an explicit weight.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import torch

from ..errors import CheckpointError, InputError
from ..models.stylegan2 import Generator

Schedule = Callable[[int], float]
"""A function: layer resolution in px (4, 8, ..., size) -> weight of generator B in [0, 1]."""

B_SIDES = ("fine", "coarse")


def _check_side(b_side: str) -> None:
    if b_side not in B_SIDES:
        raise InputError(f"b_side must be 'fine' or 'coarse', got {b_side!r}")


def constant_schedule(weight: float) -> Schedule:
    """Every layer gets ``weight`` (0 = A, 1 = B): plain weight interpolation."""
    if not 0.0 <= float(weight) <= 1.0:
        raise InputError(f"blend weight must be in [0, 1], got {weight}")
    return lambda res: float(weight)


def swap_schedule(resolution: int, b_side: str = "fine") -> Schedule:
    """Weight 1 (B) at resolutions >= ``resolution`` and 0 (A) below; ``b_side="coarse"`` flips it."""
    _check_side(b_side)
    r = int(resolution)
    if r < 4 or r & (r - 1):
        raise InputError(f"swap resolution must be a power of two >= 4, got {resolution}")
    if b_side == "fine":
        return lambda res: 1.0 if res >= r else 0.0
    return lambda res: 1.0 if res < r else 0.0


def sigmoid_schedule(center: float, sharpness: float = 1.0, b_side: str = "fine") -> Schedule:
    """A smooth swap: ``w(res) = 1 / (1 + exp(-sharpness * (log2(res) - log2(center))))``.

    0.5 at ``center`` px, rising toward 1 (B) at finer layers; ``sharpness`` is the slope per octave
    (large values approach :func:`swap_schedule`). ``b_side="coarse"`` uses ``1 - w``.
    """
    _check_side(b_side)
    if not center > 0:
        raise InputError(f"sigmoid centre must be a positive resolution in px, got {center}")
    if not sharpness > 0 or not math.isfinite(sharpness):
        raise InputError(f"sigmoid sharpness must be a positive number, got {sharpness}")
    log_c = math.log2(center)

    def schedule(res: int) -> float:
        w = 1.0 / (1.0 + math.exp(-sharpness * (math.log2(res) - log_c)))
        return w if b_side == "fine" else 1.0 - w

    return schedule


def describe_architecture(G: Generator) -> str:
    """One short line: size, style width, mapping depth and channel widths."""
    widths = "/".join(str(G.channels[r]) for r in sorted(G.channels))
    return f"{G.size} px, style_dim {G.style_dim}, n_mlp {G.n_mlp}, channels {widths}"


def check_same_architecture(a: Generator, b: Generator, names: Sequence[str] = ("A", "B")) -> None:
    """Raise a one-line CheckpointError unless ``a`` and ``b`` have the same layers and shapes."""
    sa, sb = a.state_dict(), b.state_dict()
    same = sa.keys() == sb.keys() and all(sa[k].shape == sb[k].shape for k in sa)
    same = same and a.config.get("lr_mlp") == b.config.get("lr_mlp")
    if not same:
        raise CheckpointError(
            f"generators differ in architecture: {names[0]} is {describe_architecture(a)}; "
            f"{names[1]} is {describe_architecture(b)}"
        )


def layer_weights(G: Generator, schedule: Schedule, mapping: str | float = "a") -> dict[str, float]:
    """The B-weight of every state-dict key of ``G``: ``schedule(resolution)`` for synthesis layers
    and noise buffers; for the mapping network ``mapping`` ("a" = 0, "b" = 1, "blend" = the mean of
    the schedule over :meth:`Generator.layer_resolutions`, or a number in [0, 1])."""
    if mapping == "a":
        w_map = 0.0
    elif mapping == "b":
        w_map = 1.0
    elif mapping == "blend":
        res = G.layer_resolutions()
        w_map = sum(schedule(r) for r in res) / len(res)
    elif isinstance(mapping, (int, float)) and 0.0 <= float(mapping) <= 1.0:
        w_map = float(mapping)
    else:
        raise InputError(f"mapping must be 'a', 'b', 'blend' or a weight in [0, 1], got {mapping!r}")
    out = {}
    for key in G.state_dict():
        res = G.param_resolution(key)
        out[key] = w_map if res is None else float(schedule(res))
    return out


def blend_state_dicts(
    a: Mapping[str, torch.Tensor], b: Mapping[str, torch.Tensor], weights: Mapping[str, float]
) -> dict[str, torch.Tensor]:
    """``(1 - w) * a[k] + w * b[k]`` for every key, with ``w = weights[k]`` in [0, 1].

    Weights 0 and 1 return exact copies of ``a[k]`` / ``b[k]``; other values interpolate in float32
    and cast back to ``a[k]``'s dtype. Keys and shapes must agree (else a one-line CheckpointError).
    """
    if a.keys() != b.keys():
        extra = sorted(set(a) ^ set(b))
        raise CheckpointError(f"state dicts differ in keys ({len(extra)} unmatched, e.g. {extra[0]!r})")
    out = {}
    for k, ta in a.items():
        tb = b[k]
        if ta.shape != tb.shape:
            raise CheckpointError(f"{k}: shapes differ, {tuple(ta.shape)} vs {tuple(tb.shape)}")
        w = float(weights[k])
        if not 0.0 <= w <= 1.0:
            raise InputError(f"{k}: blend weight must be in [0, 1], got {w}")
        if w == 0.0:
            out[k] = ta.detach().clone()
        elif w == 1.0:
            out[k] = tb.detach().to(ta).clone()
        else:
            out[k] = torch.lerp(ta.detach().float(), tb.detach().float(), w).to(ta.dtype)
    return out


def blend_generators(
    a: Generator, b: Generator, schedule: Schedule, mapping: str | float = "a", names: Sequence[str] = ("A", "B")
) -> Generator:
    """A new generator (eval mode, CPU, A's config) whose layer at resolution ``r`` is
    ``(1 - schedule(r)) * A + schedule(r) * B`` (see the module docstring for sides and mapping).

    ``latent_avg`` (used by truncation) is copied from the side whose mapping is kept; a blended
    mapping gets a freshly computed :meth:`Generator.mean_latent`.
    """
    check_same_architecture(a, b, names)
    weights = layer_weights(a, schedule, mapping)
    state = blend_state_dicts(a.state_dict(), b.state_dict(), weights)
    out = Generator(**a.config)
    out.load_state_dict(state, strict=True)
    out.eval()
    w_map = {weights[k] for k in weights if a.param_resolution(k) is None}
    if w_map <= {0.0}:
        out.latent_avg = None if a.latent_avg is None else a.latent_avg.detach().cpu().clone()
    elif w_map <= {1.0}:
        out.latent_avg = None if b.latent_avg is None else b.latent_avg.detach().cpu().clone()
    else:
        out.latent_avg = out.mean_latent()
    return out


def layer_swap(
    a: Generator, b: Generator, resolution: int, b_side: str = "fine", mapping: str | float = "a"
) -> Generator:
    """Layers at ``>= resolution`` px from B and the rest from A (``b_side="coarse"``: the reverse)."""
    if resolution > a.size:
        raise InputError(f"swap resolution {resolution} px is above the generator size {a.size} px")
    return blend_generators(a, b, swap_schedule(resolution, b_side), mapping)


def chain_generators(generators: Sequence[Generator], resolutions: Sequence[int]) -> Generator:
    """Stack layer swaps: ``generators[0]`` below ``resolutions[0]``, ``generators[i]`` on
    ``[resolutions[i-1], resolutions[i])``, the last one from ``resolutions[-1]`` up to full size.

    E.g. ``chain_generators([ffhq, toon, painting], [16, 64])``: pose and shape of the photo model,
    middle layers (eyes, mouth) of the toon model, colour and texture of the painting model. The
    mapping network and ``latent_avg`` come from ``generators[0]``. Re-encoding chains (invert one
    model's output into the next) belong to the inversion module.
    """
    if len(generators) < 2 or len(resolutions) != len(generators) - 1:
        raise InputError("chain needs k >= 2 generators and k - 1 swap resolutions")
    if any(r2 <= r1 for r1, r2 in zip(resolutions, resolutions[1:])):
        raise InputError(f"chain resolutions must increase, got {list(resolutions)}")
    out = generators[0]
    for i, (g, r) in enumerate(zip(generators[1:], resolutions), start=1):
        check_same_architecture(generators[0], g, ("generator 1", f"generator {i + 1}"))
        out = layer_swap(out, g, r)
    return out
