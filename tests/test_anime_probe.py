"""toonforge.metrics.probe: the logistic-regression probe separates two feature clouds."""

from __future__ import annotations

import numpy as np

from toonforge.metrics import probe


def test_the_probe_points_from_photos_to_references():
    rng = np.random.default_rng(3)
    direction = rng.normal(size=32)
    pos = rng.normal(size=(200, 32)) + 0.4 * direction
    neg = rng.normal(size=(200, 32)) - 0.4 * direction
    mean, scale, w = probe.fit_probe(pos, neg)

    def logits(f):
        return probe.probe_logits(f, mean, scale, w)

    fresh_pos = rng.normal(size=(200, 32)) + 0.4 * direction
    fresh_neg = rng.normal(size=(200, 32)) - 0.4 * direction
    assert np.mean(logits(fresh_pos) > 0) > 0.95 and np.mean(logits(fresh_neg) < 0) > 0.95
    # Halfway between the clouds is undecided, and moving along the direction raises the logit.
    assert abs(logits(np.zeros((1, 32)))[0]) < 1.5
    assert logits(np.array([direction]))[0] > logits(np.array([-direction]))[0] + 5
    again = probe.fit_probe(pos, neg)[2]
    assert np.allclose(again, w)  # deterministic


class MeanColour:
    """A stand-in feature extractor: an image's mean RGB (so 'style' is simply 'bright')."""

    name, fd_label, dim = "mean-colour", "FD-mean", 3

    def __call__(self, images):
        return images.reshape(len(images), -1, 3).mean(1) / 255.0


def test_the_report_scores_bright_outputs_as_references(tmp_path):
    from toonforge.io.images import save_image

    rng = np.random.default_rng(0)
    for folder, level, n in (("refs", 200, 15), ("photos", 60, 15), ("bright", 190, 4), ("dark", 70, 4)):
        for i in range(n):
            save_image(tmp_path / folder / f"{i}.png", np.clip(rng.normal(level, 20, (16, 16, 3)), 0, 255)
                       .astype(np.uint8))
    lines = probe.probe_report(tmp_path / "refs", tmp_path / "photos", [tmp_path / "bright", tmp_path / "dark"],
                               extractor=MeanColour())
    assert lines[0].startswith("probe: 12 references vs 12 photos; balanced accuracy on 3 + 3 left out: 1.000")
    assert "classified as references 100.0% of 4" in lines[1] and "classified as references 0.0% of 4" in lines[2]


def test_eval_probe_options_are_checked_first(tmp_path, capsys):
    from toonforge.cli.main import main

    (tmp_path / "photos").mkdir()
    code = main(["eval", "--style", "classic", "--photos", str(tmp_path / "photos"), "--probe-refs",
                 str(tmp_path / "photos"), "--out", str(tmp_path / "ev")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: the probe scores") and len(err.strip().splitlines()) == 1
