"""The uint8 image <-> network array conversions: values, rounding, layout."""

from __future__ import annotations

import numpy as np

from toonforge.pipelines.tensors import from_network, to_network


def test_round_trip_is_exact_and_values_span_the_range():
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (5, 7, 3), dtype=np.uint8) for _ in range(3)]
    x = to_network(images)
    assert x.shape == (3, 3, 5, 7) and x.dtype == np.float32 and x.flags["C_CONTIGUOUS"]
    assert np.allclose(x[0, 1], images[0][:, :, 1] / 127.5 - 1.0, atol=1e-6)
    back = from_network(x)
    assert all(np.array_equal(a, b) for a, b in zip(images, back))
    # another value range: [0, 1]
    y = to_network(images[0], (0.0, 1.0))
    assert y.shape == (1, 3, 5, 7) and np.allclose(y[0, 2], images[0][:, :, 2] / 255.0, atol=1e-6)
    assert np.array_equal(from_network(y, (0.0, 1.0))[0], images[0])


def test_from_network_rounds_clips_and_returns_contiguous_images():
    batch = np.array([-2.0, -1.0, 0.0, 0.999, 1.5], np.float32).reshape(1, 1, 1, 5).repeat(3, axis=1)
    out = from_network(batch)
    assert len(out) == 1 and out[0].shape == (1, 5, 3) and out[0].dtype == np.uint8
    assert out[0][0, :, 0].tolist() == [0, 0, 128, 255, 255]  # 127.5 + 0.5 rounds up; clipped both ends
    # C-contiguous (H, W, 3): OpenCV's warps and filters run several times slower on a transposed view
    rng = np.random.default_rng(1)
    for img in from_network(rng.uniform(-1, 1, (2, 3, 16, 24)).astype(np.float32)):
        assert img.shape == (16, 24, 3) and img.flags["C_CONTIGUOUS"]
