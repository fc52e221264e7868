"""Stage-3 trainer for the multi-style translator: one network, every style, from one pair folder
per style.

Data: ``targets/<style>/<stem>.*`` holds a style's stylized copies of ``photos/<stem>.*``. A stem
missing in one style is left out for that style only (``check_pairing`` says how many). The
train/validation split is made once over the photos' stems, so a held-out photo is held out
for every style. Training items are (photo, target, one-hot style) triples drawn evenly across
the styles (:class:`StyleTaggedPairs`), so every batch mixes styles and the style reaches the
generator per sample as an (N, S) weight matrix.

Losses are the single-style trainer's (:mod:`.translator_task`); the patch discriminator is
conditioned on the style by S constant one-hot planes concatenated to its RGB input, so it
judges "is this a good *anime* image", not "a good image of some style". Validation: ``val/l1``
of the EMA generator per style (``val/l1/<style>``) and their mean (``val/l1``).
At every checkpoint the EMA generator is also written as ``RUN/generator.safetensors`` (a
``translator-multi`` model file for :func:`toonforge.models.factory.load_model`).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InputError
from ..models.factory import create_model
from .paired_data import PairedFolder, check_pairing, split_names
from .translator_task import TranslatorTask, TranslatorTrainConfig, check_sizes

GENERATOR_FILE = "generator.safetensors"


def parse_styles(text: str, targets: str | Path) -> list[str]:
    """``"a,b,c"`` -> ``["a", "b", "c"]``, each a sub-folder of ``targets``; one-line InputError for
    fewer than two names, a repeated name or a missing folder."""
    styles = [s.strip() for s in text.split(",") if s.strip()]
    if len(styles) < 2:
        raise InputError(f"--styles needs two or more comma-separated style names, got {text!r}")
    repeated = sorted({s for s in styles if styles.count(s) > 1})
    if repeated:
        raise InputError(f"--styles names {', '.join(repeated)} more than once")
    missing = [s for s in styles if not (Path(targets) / s).is_dir()]
    if missing:
        more = f" ({len(missing)} missing)" if len(missing) > 1 else ""
        raise InputError(f"--styles: no folder {Path(targets) / missing[0]} (with --styles, --targets holds "
                         f"one sub-folder of pairs per style){more}")
    return styles


class StyleTaggedPairs(torch.utils.data.Dataset):
    """(photo, target, style one-hot) items drawn evenly across styles.

    ``folders``: one :class:`PairedFolder` per style, in style order. Item ``i`` is style
    ``s = i % S``, pair ``(i // S) % len(folders[s])``: the length is ``S * max(len)``, so each
    epoch shows every style equally often (a style with fewer pairs repeats them).
    Items: (3, h, w) photo and target in [-1, 1], (S,) float32 one-hot.
    """

    def __init__(self, folders: list[PairedFolder]) -> None:
        self.folders = folders
        self.longest = max(len(f) for f in folders)

    def __len__(self) -> int:
        return len(self.folders) * self.longest

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if not 0 <= index < len(self):
            raise IndexError(index)
        n_styles = len(self.folders)
        s = index % n_styles
        folder = self.folders[s]
        x, y = folder[(index // n_styles) % len(folder)]
        return x, y, F.one_hot(torch.tensor(s), n_styles).float()


class MultiTranslatorTask(TranslatorTask):
    """The translator-multi generator, a style-conditioned patch discriminator, the shared losses."""

    name = "translator-multi"

    def __init__(self, cfg: TranslatorTrainConfig, styles: list[str], perceptual: nn.Module | None = None, *,
                 allow_missing_targets: bool = False) -> None:
        check_sizes(cfg.size, cfg.crop_size, cfg.tone_augment)
        self.cfg, self.styles = cfg, list(styles)
        root = Path(cfg.targets)
        per_style = {s: check_pairing(PairedFolder(cfg.inputs, root / s, cfg.size), allow_missing=allow_missing_targets)
                     for s in self.styles}
        everything = sorted(set().union(*per_style.values()))
        train, val = (set(part) for part in split_names(everything, cfg.val_fraction, cfg.seed))
        self.style_train = {s: [n for n in names if n in train] for s, names in per_style.items()}
        self.style_val = {s: [n for n in names if n in val] for s, names in per_style.items()}
        empty = [s for s, names in self.style_train.items() if not names]
        if empty:
            raise InputError(f"style {empty[0]}: no training pairs left after the validation split")
        self.train_names, self.val_names = sorted(train), sorted(val)
        self._perceptual = perceptual
        self._val_sets: dict[str, PairedFolder] | None = None
        self.ema: dict[str, nn.Module] = {}

    # ---- networks ------------------------------------------------------------------------------
    def _make_nets(self) -> tuple[nn.Module, nn.Module]:
        cfg = self.cfg
        g = create_model("translator-multi", styles=self.styles, tier=cfg.tier)
        d = create_model("patch_discriminator", in_channels=3 + len(self.styles), base_channels=cfg.d_channels)
        return g, d

    def _init_from(self, source: str) -> None:
        from .translator_init import init_multi_translator

        init_multi_translator(source, self.G, self.D)

    def _unpack(self, batch: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        x, y, style = batch
        return x, y, style

    def _generate(self, net: nn.Module, x: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
        return net(x, cond)

    def _score(self, net: nn.Module, img: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
        """The discriminator on ``img`` (N, 3, H, W) with the (N, S) style as S constant planes."""
        planes = cond.to(img.dtype)[:, :, None, None].expand(-1, -1, img.shape[2], img.shape[3])
        return net(torch.cat([img, planes], 1))

    # ---- data ----------------------------------------------------------------------------------
    def dataset(self) -> StyleTaggedPairs:
        c, root = self.cfg, Path(self.cfg.targets)
        return StyleTaggedPairs([
            PairedFolder(c.inputs, root / s, c.size, c.augment, c.seed, names=self.style_train[s],
                         crop=c.crop_size, tone_p=c.tone_augment)
            for s in self.styles])

    def val_sets(self) -> dict[str, PairedFolder]:
        """Each style's held-out pairs (at most ``val_max``), full size, built once."""
        if self._val_sets is None:
            c, root = self.cfg, Path(self.cfg.targets)
            self._val_sets = {s: PairedFolder(c.inputs, root / s, c.size, None, c.seed, names=names[: c.val_max])
                              for s in self.styles if (names := self.style_val[s])}
        return self._val_sets

    def val_dataset(self) -> None:  # the per-style sets replace the single one
        return None

    @torch.no_grad()
    def evaluate(self, step: int) -> dict[str, float]:
        """``val/l1/<style>`` of the EMA generator for each style with held-out pairs, and their mean."""
        sets = self.val_sets()
        if not sets:
            return {}
        out = {f"val/l1/{s}": self.val_l1(data, F.one_hot(torch.tensor(self.styles.index(s)), len(self.styles)).float())
               for s, data in sets.items()}
        out["val/l1"] = sum(out.values()) / len(out)
        text = " ".join(f"{k.rsplit('/', 1)[-1]}={v:.4f}" for k, v in out.items() if k != "val/l1")
        print(f"step {step} val_l1 {out['val/l1']:.4f} ({text})", flush=True)
        return out

    def config(self) -> dict:
        return asdict(self.cfg) | {"styles": self.styles, "n_train": {s: len(v) for s, v in self.style_train.items()},
                                   "n_val": {s: len(v) for s, v in self.style_val.items()}}

    def extra_state(self) -> dict:
        return {"styles": list(self.styles)}

    def load_extra_state(self, state: dict) -> None:
        before = state.get("styles", self.styles)
        if list(before) != self.styles:
            raise InputError(f"the run to resume trained styles {','.join(before)}, not {','.join(self.styles)}")

    def on_checkpoint(self, run_dir: Path, step: int) -> None:
        save_generator(self, run_dir, step)


def save_generator(task: MultiTranslatorTask, run_dir: Path, step: int) -> Path:
    """Write the EMA generator (the plain one if there is no EMA) to ``run_dir/generator.safetensors``."""
    from ..models.model_file import save_model

    net = task.generator()
    info = {"styles": task.styles, "tier": task.cfg.tier, "step": step, "size": task.cfg.size}
    return save_model(Path(run_dir) / GENERATOR_FILE, net, info)
