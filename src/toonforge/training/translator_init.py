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
