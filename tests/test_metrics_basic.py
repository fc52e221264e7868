"""NumPy metrics on inputs whose answers are known: sharpness, Fréchet distance, KID, flicker, speed."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

from toonforge.errors import InputError
from toonforge.metrics import (
    FlickerScore,
    SpeedScore,
    fd_between,
    frechet_distance,
    gaussian_stats,
    kernel_inception_distance,
    laplacian_sharpness,
    mean_sharpness,
    measure_throughput,
    temporal_flicker,
)
from toonforge.metrics.kid import mmd2_unbiased

# --- sharpness ---------------------------------------------------------------------------------


def test_flat_and_linear_ramp_have_zero_sharpness():
    assert laplacian_sharpness(np.full((8, 9, 3), 77, np.uint8)) == 0.0
    ramp = np.tile(np.arange(0, 200, 10, dtype=np.uint8), (6, 1))  # the Laplacian of a ramp is 0
    assert laplacian_sharpness(ramp) == 0.0


def test_single_bright_pixel_by_hand():
    img = np.zeros((5, 5), np.uint8)
    img[2, 2] = 255
    # Interior is 3x3: the centre responds |-4 * 255| = 1020, its 4 edge neighbours 255 each,
    # the 4 interior corners 0. Mean = (1020 + 4 * 255) / 9.
    assert laplacian_sharpness(img) == pytest.approx((1020 + 4 * 255) / 9, abs=1e-9)
    rgb = np.zeros((5, 5, 3), np.uint8)
    rgb[2, 2] = (255, 255, 255)  # luma 0.299 + 0.587 + 0.114 = 1 -> same as the grey case
    assert laplacian_sharpness(rgb) == pytest.approx((1020 + 4 * 255) / 9, abs=1e-9)
    red = np.zeros((5, 5, 3), np.uint8)
    red[2, 2] = (255, 0, 0)  # luma 0.299 * 255
    assert laplacian_sharpness(red) == pytest.approx(0.299 * 2040 / 9, abs=1e-9)


def test_checkerboard_by_hand():
    board = ((np.indices((4, 6)).sum(axis=0) % 2) * 255).astype(np.uint8)
    # Every interior pixel v has four neighbours 255 - v: |4 (255 - v) - 4 v| = 1020.
    assert laplacian_sharpness(board) == pytest.approx(1020.0)
    assert mean_sharpness([board, np.zeros((3, 3), np.uint8)]) == pytest.approx(510.0)


def test_sharpness_errors():
    with pytest.raises(InputError, match="3x3"):
        laplacian_sharpness(np.zeros((2, 10, 3), np.uint8))
    with pytest.raises(InputError):
        laplacian_sharpness(np.zeros((5, 5, 4), np.uint8))
    with pytest.raises(InputError):
        mean_sharpness([])


# --- Fréchet distance --------------------------------------------------------------------------


def test_frechet_of_a_set_with_itself_is_zero():
    x = np.random.default_rng(0).normal(size=(300, 16)) @ np.random.default_rng(1).normal(size=(16, 16))
    assert fd_between(x, x) == pytest.approx(0.0, abs=1e-6)


def test_frechet_pure_shift_equals_squared_norm():
    x = np.random.default_rng(2).normal(size=(200, 8))
    shift = np.linspace(-1.0, 2.0, 8)
    # Same samples shifted: identical covariances, so FD = ||shift||^2 exactly.
    assert fd_between(x, x + shift) == pytest.approx(float(shift @ shift), rel=1e-9, abs=1e-6)


def test_frechet_grows_with_mean_shift():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(400, 6)), rng.normal(size=(400, 6))
    values = [fd_between(a, b + s) for s in (0.0, 0.5, 1.0, 2.0, 4.0)]
    assert all(v1 < v2 for v1, v2 in zip(values, values[1:]))


def test_frechet_closed_form_diagonal():
    # Commuting (diagonal) covariances: FD = ||dmu||^2 + sum (sqrt(a_i) - sqrt(b_i))^2
    # = (3^2 + 4^2) + (1 - 3)^2 + (2 - 1)^2 = 25 + 4 + 1.
    value = frechet_distance(np.zeros(2), np.diag([1.0, 4.0]), np.array([3.0, 4.0]), np.diag([9.0, 1.0]))
    assert value == pytest.approx(30.0, abs=1e-9)


def test_frechet_matches_scipy_sqrtm_on_non_commuting_covariances():
    linalg = pytest.importorskip("scipy.linalg")
    rng = np.random.default_rng(4)
    m1, m2 = rng.normal(size=(5, 5)), rng.normal(size=(5, 5))
    s1, s2 = m1 @ m1.T, m2 @ m2.T
    mu1, mu2 = rng.normal(size=5), rng.normal(size=5)
    ref = float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2)
                - 2 * np.trace(linalg.sqrtm(s1 @ s2)).real)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(ref, rel=1e-8)


def test_frechet_singular_covariance_is_finite():
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=(5, 32)), rng.normal(size=(7, 32))  # fewer samples than dimensions
    value = fd_between(a, b)
    assert math.isfinite(value) and value > 0


def test_few_samples_shortcut_matches_the_covariance_formula():
    rng = np.random.default_rng(9)
    a, b = rng.random((6, 40)), rng.random((9, 40)) * 1.5 + 0.2  # fewer samples than dimensions
    full = frechet_distance(*gaussian_stats(a), *gaussian_stats(b))
    assert fd_between(a, b) == pytest.approx(full, rel=1e-6)


def test_gaussian_stats_and_errors():
    x = np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 8.0]])
    mu, sigma = gaussian_stats(x)
    assert mu.dtype == np.float64 and sigma.shape == (2, 2)
    np.testing.assert_allclose(mu, [2.0, 4.0])
    np.testing.assert_allclose(sigma, np.cov(x, rowvar=False))
    with pytest.raises(InputError, match="at least 2"):
        fd_between(x[:1], x)
    with pytest.raises(InputError, match="dimensions"):
        fd_between(x, np.ones((3, 3)))
    with pytest.raises(InputError):
        frechet_distance(np.zeros(2), np.eye(3), np.zeros(2), np.eye(2))


# --- KID ---------------------------------------------------------------------------------------


def test_mmd_unbiased_matches_a_hand_loop():
    rng = np.random.default_rng(6)
    x, y = rng.normal(size=(4, 3)), rng.normal(size=(5, 3))
    k = lambda u, v: (u @ v / 3 + 1) ** 3
    xx = sum(k(x[i], x[j]) for i in range(4) for j in range(4) if i != j) / (4 * 3)
    yy = sum(k(y[i], y[j]) for i in range(5) for j in range(5) if i != j) / (5 * 4)
    xy = sum(k(x[i], y[j]) for i in range(4) for j in range(5)) / (4 * 5)
    assert mmd2_unbiased(x, y) == pytest.approx(xx + yy - 2 * xy, rel=1e-12)


def test_kid_same_distribution_near_zero_shifted_clearly_positive():
    rng = np.random.default_rng(7)
    a, b = rng.normal(size=(400, 16)), rng.normal(size=(400, 16))
    same_mean, same_std = kernel_inception_distance(a, b, subsets=20, subset_size=200)
    shifted_mean, _ = kernel_inception_distance(a, b + 1.0, subsets=20, subset_size=200)
    assert abs(same_mean) < 0.05 and same_std >= 0
    assert shifted_mean > 1.0 and shifted_mean > 20 * abs(same_mean)


def test_kid_subset_size_clipped_and_seeded():
    rng = np.random.default_rng(8)
    a, b = rng.normal(size=(10, 4)), rng.normal(size=(30, 4))
    first = kernel_inception_distance(a, b, subsets=5, subset_size=1000, seed=1)
    assert first == kernel_inception_distance(a, b, subsets=5, subset_size=1000, seed=1)
    # subset_size 1000 is clipped to the smaller set (10 samples) instead of failing.
    assert all(math.isfinite(v) for v in first)
    with pytest.raises(InputError):
        kernel_inception_distance(a[:1], b)
    with pytest.raises(InputError):
        kernel_inception_distance(a, b[:, :3])


# --- flicker -----------------------------------------------------------------------------------


def _frames(values: list[int], shape=(4, 5, 3)) -> list[np.ndarray]:
    return [np.full(shape, v, np.uint8) for v in values]


def test_flicker_ratio_on_synthetic_sequences():
    score = temporal_flicker(_frames([100, 110, 100, 110]), _frames([100, 120, 100, 120], (8, 10, 3)))
    assert isinstance(score, FlickerScore)
    assert score.input_mad == 10.0 and score.output_mad == 20.0 and score.ratio == 2.0
    # uint8 wrap-around must not happen: 0 -> 255 is a difference of 255.
    assert temporal_flicker(_frames([0, 255]), _frames([255, 0])).ratio == 1.0


def test_flicker_static_input():
    assert temporal_flicker(_frames([5, 5, 5]), _frames([9, 9, 9])).ratio == 1.0
    score = temporal_flicker(_frames([5, 5, 5]), _frames([9, 10, 9]))
    assert score.output_mad == 1.0 and math.isnan(score.ratio)


def test_flicker_errors():
    with pytest.raises(InputError, match="at least 2"):
        temporal_flicker(_frames([1]), _frames([1]))
    with pytest.raises(InputError, match="counts"):
        temporal_flicker(_frames([1, 2]), _frames([1, 2, 3]))
    with pytest.raises(InputError, match="shape"):
        temporal_flicker(_frames([1, 2]), [np.zeros((4, 5, 3), np.uint8), np.zeros((4, 6, 3), np.uint8)])


# --- speed -------------------------------------------------------------------------------------


def test_measure_throughput_structure():
    calls = []
    score = measure_throughput(lambda: calls.append(sum(range(100))), 4, warmup=2, repeats=3)
    assert isinstance(score, SpeedScore)
    assert len(calls) == 5 and score.repeats == 3
    assert score.median_seconds >= 0 and score.images_per_second > 0
    with pytest.raises(InputError):
        measure_throughput(lambda: None, 0)
    with pytest.raises(InputError):
        measure_throughput(lambda: None, 1, repeats=0)


def test_time_interleaved_takes_turns_and_reports_medians(monkeypatch):
    from toonforge.metrics.speed import time_interleaved

    calls = []
    # The clock jumps 1 around each "a" call, 3 around each "b" call, and 100 once (a noise spike).
    readings = iter([0, 1, 1, 4, 4, 105, 105, 108, 108, 109, 109, 112])
    monkeypatch.setattr("toonforge.metrics.speed.time.perf_counter", lambda: next(readings))
    times = time_interleaved({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, repeats=3, warmup=1)
    assert calls == ["a", "b"] * 4  # one warm-up round, then three timed rounds in turn
    assert times == {"a": 1.0, "b": 3.0}  # the median ignores the spike
    with pytest.raises(InputError):
        time_interleaved({"a": lambda: None}, repeats=0)


# --- package -----------------------------------------------------------------------------------


def test_importing_metrics_loads_neither_dlib_nor_torch():
    code = ("import sys, toonforge.metrics as m; m.IdentityScore; "
            "print('dlib' in sys.modules, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_psnr_values_symmetry_and_shapes():
    from toonforge.metrics.psnr import psnr

    a = np.zeros((4, 5, 3), np.uint8)
    b = a.copy()
    b[0, 0, 0] = 255  # MSE = 255^2 / 60
    assert psnr(a, b) == pytest.approx(10 * np.log10(60.0)) and psnr(b, a) == psnr(a, b)
    assert psnr(a, a) == pytest.approx(10 * np.log10(255.0 ** 2 / 1e-12))  # floored MSE, not infinity
    assert psnr(a, a + 1) == pytest.approx(20 * np.log10(255.0))  # MSE 1 everywhere
    assert psnr(a.astype(np.float32), np.full(a.shape, 0.5, np.float32), peak=1.0) == pytest.approx(20 * np.log10(2.0))
    with pytest.raises(InputError, match="one shape"):
        psnr(a, a[:2])
