"""Start a translator run from trained weights: fine-tuning, or growing a tier into its ``-hd`` or
``-subpixel`` form.

The source is a ``train-translator`` checkpoint (its EMA generator, and its discriminator, so
the adversarial game resumes balanced) or a style folder whose head is a translator (generator
only). On the way the generator may gain the full-resolution stage of a ``-hd`` tier, or have
its head converted into a ``-subpixel`` tier's (:func:`toonforge.models.translator.grow_state`);
any other mismatch is refused in one line.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ..errors import CheckpointError, InputError
from ..io.checkpoints import load_into
from ..models.translator import Translator, grow_state
from . import checkpoint as ck

State = dict[str, torch.Tensor]


def read_initial_weights(source: str | Path) -> tuple[State, State | None]:
    """(generator state, discriminator state or None) from a checkpoint file or a style folder."""
    source = Path(source)
    if source.is_dir():
        from ..styles.style import Style

        style = Style.load(source)
        if style.config.kind != "network" or style.spec("head").model != "translator":
            raise InputError(f"--init-from {source}: this style's head is not a translator")
        return style.build_net("head").state_dict(), None  # checked against the style's own tier
    if not source.is_file():
        raise InputError(f"--init-from {source}: no such checkpoint file or style folder")
    ckpt = ck.load_checkpoint(source)
    if ckpt["task"] != "translator":
        raise CheckpointError(f"--init-from {source}: a '{ckpt['task']}' checkpoint, not a translator one")
    g = ckpt["ema"].get("G") or ckpt["modules"]["G"]
    return g, ckpt["modules"].get("D")


def init_translator(source: str | Path, G: Translator, D: nn.Module) -> None:
    """Fill ``G`` (and ``D`` when the source has one) from ``source``, strictly but for what
    :func:`grow_state` adapts (a ``-hd`` stage added, a base head made sub-pixel)."""
    g_state, d_state = read_initial_weights(source)
    what = f"--init-from {source}"
    load_into(G, grow_state(G, g_state), f"{what} generator (tier {G.config['tier']})")
    if d_state is not None:
        load_into(D, d_state, f"{what} discriminator")


def init_multi_translator(source: str | Path, G: nn.Module, D: nn.Module) -> None:
    """Fill a translator-multi ``G`` from ``source``.

    A ``train-translator --styles`` checkpoint (same styles, same tier) fills ``G`` (its EMA) and
    the style-conditioned ``D`` as they are; so does a ``translator-multi`` model file (``G``
    only). A single-style source (checkpoint, style folder or ``translator`` model file, grown
    like :func:`init_translator` when ``G`` is a ``-hd``/``-subpixel`` tier of it) starts every
    style as that translator (:func:`~toonforge.models.translator.multi.multi_state_from_single`);
    its discriminator is not used (it has no style input), so ``D`` starts fresh.
    """
    from ..models.translator.multi import multi_state_from_single

    source = Path(source)
    what = f"--init-from {source}"
    if source.is_file() and source.suffix.lower() == ".safetensors":
        from ..models.factory import load_model

        net, meta, _ = load_model(source)
        if meta.model == "translator-multi":
            _check_styles(net.styles, G.styles, what)
            load_into(G, net.state_dict(), f"{what} generator")
            return
        if meta.model != "translator":
            raise CheckpointError(f"{what}: holds a {meta.model}, not a translator")
        g_state = net.state_dict()
    elif source.is_file() and (ckpt := ck.load_checkpoint(source))["task"] == "translator-multi":
        _check_styles(ckpt["extra"].get("styles", G.styles), G.styles, what)
        g_state = ckpt["ema"].get("G") or ckpt["modules"]["G"]
        load_into(G, g_state, f"{what} generator (tier {G.net.config['tier']}, styles {','.join(G.styles)})")
        if ckpt["modules"].get("D") is not None:
            load_into(D, ckpt["modules"]["D"], f"{what} discriminator")
        return
    else:
        g_state, _ = read_initial_weights(source)
    plain = Translator(**G.net.config)  # grown as the single-style tier: G.net's own keys are style tables
    state = multi_state_from_single(G, grow_state(plain, g_state))
    load_into(G, state, f"{what} generator (tier {G.net.config['tier']})")


def _check_styles(have: list[str], want: list[str], what: str) -> None:
    if list(have) != list(want):
        raise InputError(f"{what}: its styles are {','.join(have)}, not {','.join(want)} (same names, same order)")
