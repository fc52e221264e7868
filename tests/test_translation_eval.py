"""The stage-2 validator: metrics of known translators, best-FD tracking, tuple outputs."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pytest
import torch

from toonforge.training.translation_eval import TranslationValidator, to_uint8_images


class MeanStdFeatures:
    """Per-channel mean and std: a trivial FD extractor instead of MobileNetV2."""

    name, fd_label, dim = "meanstd", "FD-meanstd", 6

    def __call__(self, images: np.ndarray) -> np.ndarray:
        x = np.asarray(images, np.float64) / 255.0
        return np.concatenate([x.mean(axis=(1, 2)), x.std(axis=(1, 2))], axis=1)


class Out(NamedTuple):
    cam: torch.Tensor
    out: torch.Tensor


def _images(seed: int, n: int, lo: int, hi: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(lo, hi, (16, 16, 3), dtype=np.uint8) for _ in range(n)]


def make_validator() -> TranslationValidator:
    return TranslationValidator(_images(0, 6, 0, 128), _images(1, 6, 128, 256), extractor=MeanStdFeatures(),
                                batch_size=4)


def test_identity_translator_scores_the_input_baseline():
    val = make_validator()
    stats = val(lambda x: x, step=10)
    assert stats["val/content"] == pytest.approx(0.0, abs=1e-6)
    assert stats["val/fd"] == pytest.approx(stats["val/fd_input"]) and stats["val/fd"] > 0.1
    assert val.best_step == 10 and val.improved_at(10)


def test_moving_toward_the_styles_lowers_fd_and_tracks_the_best():
    val = make_validator()
    first = val(lambda x: x, step=1)
    closer = val(lambda x: (x + 1.0).clamp(-1, 1) * 0.5 + 0.5, step=2)  # brighter, like the styles
    assert closer["val/fd"] < first["val/fd"] and closer["val/content"] > 0.1
    assert val.best_step == 2 and closer["val/best_fd"] == closer["val/fd"]
    worse = val(lambda x: -torch.ones_like(x), step=3)  # all black: far from the bright styles
    assert worse["val/fd"] > closer["val/fd"] and val.best_step == 2 and not val.improved_at(3)
    assert worse["val/best_fd"] == closer["val/fd"]


def test_named_tuple_outputs_use_their_out_field():
    val = make_validator()
    a = val(lambda x: Out(torch.zeros(1), x * 0.5), step=1)
    b = make_validator()(lambda x: x * 0.5, step=1)
    assert a == b


def test_to_uint8_images_rounds_and_clips():
    x = torch.tensor([-2.0, -1.0, 0.0, 1.0, 3.0]).view(1, 1, 1, 5).expand(1, 3, 1, 5)
    (img,) = to_uint8_images(x)
    assert img.shape == (1, 5, 3) and img.dtype == np.uint8
    assert img[0, :, 0].tolist() == [0, 0, 128, 255, 255]
