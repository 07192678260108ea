"""KID: the vectorised estimate against a brute-force double loop; null and shifted behaviour."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ganforge.metrics import kernel_inception_distance, polynomial_mmd2_unbiased


def _brute_mmd2(x, y, degree=3, gamma=None, coef0=1.0) -> float:
    """Unbiased MMD^2 written out term by term (diagonal k(x_i, x_i), k(y_i, y_i) excluded)."""
    m, n, d = len(x), len(y), x.shape[1]
    g = 1.0 / d if gamma is None else gamma

    def k(a, b):
        return (g * float(np.dot(a, b)) + coef0) ** degree

    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return xx + yy - 2 * xy


@pytest.mark.parametrize("degree,gamma,coef0", [(3, None, 1.0), (2, 0.5, 0.0), (1, None, 2.0)])
def test_matches_brute_force_double_loop(degree, gamma, coef0):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(15, 4))
    y = rng.normal(size=(15, 4)) * 1.3 + 0.4
    expected = _brute_mmd2(x, y, degree, gamma, coef0)
    assert polynomial_mmd2_unbiased(x, y, degree, gamma, coef0) == pytest.approx(expected, rel=1e-10)
    # One subset of the full size is a permutation of each set, which leaves MMD^2 unchanged.
    mean, std = kernel_inception_distance(x, y, num_subsets=1, subset_size=15, degree=degree,
                                          gamma=gamma, coef0=coef0)
    assert mean == pytest.approx(expected, rel=1e-10)
    assert std == 0.0


def test_subset_size_is_capped_by_the_smaller_set():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(12, 3)), rng.normal(size=(30, 3)) + 1.0
    mean, _ = kernel_inception_distance(x, y, num_subsets=3, subset_size=1000)
    assert np.isfinite(mean)
    # The whole of x is used in each subset; y subsets of 12 differ, so results are reproducible
    # for a fixed seed and vary with it.
    assert kernel_inception_distance(x, y, num_subsets=3, seed=7) == kernel_inception_distance(
        x, y, num_subsets=3, seed=7)
    assert kernel_inception_distance(x, y, num_subsets=3, seed=7) != kernel_inception_distance(
        x, y, num_subsets=3, seed=8)


def test_same_distribution_near_zero_and_shift_clearly_positive():
    rng = np.random.default_rng(2)
    real = rng.normal(size=(600, 16))
    same = rng.normal(size=(600, 16))
    shifted = rng.normal(size=(600, 16)) + 0.5
    null_mean, null_std = kernel_inception_distance(real, same, num_subsets=10, subset_size=200)
    alt_mean, _ = kernel_inception_distance(real, shifted, num_subsets=10, subset_size=200)
    assert abs(null_mean) < 0.02
    assert null_std > 0.0
    assert alt_mean > 0.2
    assert alt_mean > 20 * abs(null_mean)


def test_accepts_torch_tensors_and_validates():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(20, 3)), rng.normal(size=(20, 3))
    expected = kernel_inception_distance(x, y, num_subsets=2, subset_size=10)
    got = kernel_inception_distance(torch.from_numpy(x), torch.from_numpy(y), num_subsets=2, subset_size=10)
    assert got == pytest.approx(expected)
    with pytest.raises(ValueError):
        kernel_inception_distance(x, y[:, :2])
    with pytest.raises(ValueError):
        kernel_inception_distance(x[:1], y)
