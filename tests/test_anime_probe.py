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
