"""FID: closed forms, an independent eigendecomposition reference, degenerate covariances."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import linalg

from ganforge.metrics import feature_statistics, fid_from_features, frechet_distance


def _random_spd(rng, d: int) -> np.ndarray:
    a = rng.normal(size=(d, d))
    return a @ a.T / d + 0.1 * np.eye(d)


def _psd_sqrt(s: np.ndarray) -> np.ndarray:
    w, v = linalg.eigh(s)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def _reference_fd(mu1, s1, mu2, s2) -> float:
    """Tr sqrt(s1 s2) = Tr sqrt(sqrt(s1) s2 sqrt(s1)), the latter symmetric PSD (eigh-friendly)."""
    r = _psd_sqrt(s1)
    eig = linalg.eigh(r @ s2 @ r, eigvals_only=True)
    tr_covmean = np.sqrt(np.clip(eig, 0.0, None)).sum()
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * tr_covmean)


def test_feature_statistics_matches_numpy():
    x = np.random.default_rng(0).normal(size=(40, 3))
    mu, sigma = feature_statistics(x)
    assert mu.dtype == np.float64 and sigma.shape == (3, 3)
    np.testing.assert_allclose(mu, x.mean(0))
    np.testing.assert_allclose(sigma, np.cov(x.T, ddof=1))
    _, s1 = feature_statistics(x[:, :1])
    assert s1.shape == (1, 1)


def test_diagonal_gaussians_closed_form():
    rng = np.random.default_rng(1)
    d = 16
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    v1, v2 = rng.uniform(0.1, 3.0, d), rng.uniform(0.1, 3.0, d)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum(v1 + v2 - 2 * np.sqrt(v1 * v2))
    got = frechet_distance(mu1, np.diag(v1), mu2, np.diag(v2))
    assert isinstance(got, float)
    assert got == pytest.approx(expected, rel=1e-10)


def test_general_spd_matches_eigendecomposition_reference():
    rng = np.random.default_rng(2)
    for d in (2, 7, 32):
        mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
        s1, s2 = _random_spd(rng, d), _random_spd(rng, d)
        expected = _reference_fd(mu1, s1, mu2, s2)
        assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-6)


def test_identical_statistics_give_zero():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(300, 20))
    mu, s = feature_statistics(x)
    assert frechet_distance(mu, s, mu, s) == pytest.approx(0.0, abs=1e-8 * np.trace(s))
    assert fid_from_features(x, x.copy()) == pytest.approx(0.0, abs=1e-8 * np.trace(s))


@pytest.mark.parametrize("case", ["fewer_samples_than_dims", "duplicated_columns", "same_low_rank"])
def test_rank_deficient_features_give_finite_nonnegative_real(case):
    rng = np.random.default_rng(4)
    if case == "fewer_samples_than_dims":
        a, b = rng.normal(size=(50, 64)), rng.normal(size=(50, 64)) + 0.2
    elif case == "duplicated_columns":
        a, b = rng.normal(size=(300, 8)), rng.normal(size=(300, 8)) * 1.5
        a, b = np.hstack([a, a, a[:, :2]]), np.hstack([b, b, b[:, :2]])
    else:
        a = rng.normal(size=(40, 64))
        b = a.copy()
    got = fid_from_features(a, b)
    assert isinstance(got, float) and math.isfinite(got) and got >= 0.0
    expected = _reference_fd(*feature_statistics(a), *feature_statistics(b))
    assert got == pytest.approx(max(expected, 0.0), rel=1e-3, abs=1e-3)


def test_symmetry():
    rng = np.random.default_rng(5)
    a = rng.normal(size=(200, 10))
    b = rng.normal(size=(150, 10)) @ rng.normal(size=(10, 10)) * 0.5 + 1.0
    assert fid_from_features(a, b) == pytest.approx(fid_from_features(b, a), rel=1e-8)
    assert fid_from_features(a, b) > 1.0


def test_accepts_torch_tensors():
    rng = np.random.default_rng(6)
    a, b = rng.normal(size=(60, 5)), rng.normal(size=(60, 5)) + 1.0
    expected = fid_from_features(a, b)
    got = fid_from_features(torch.from_numpy(a).float(), torch.from_numpy(b).float())
    assert got == pytest.approx(expected, rel=1e-4)


def test_large_imaginary_component_raises():
    # Not covariances: the product is -I, whose square root is purely imaginary.
    with pytest.raises(ValueError, match="imaginary"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(3), -np.eye(3))


def test_shape_errors():
    with pytest.raises(ValueError):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))
    with pytest.raises(ValueError):
        fid_from_features(np.zeros((10, 3)), np.zeros((10, 4)))
    with pytest.raises(ValueError):
        feature_statistics(np.zeros((1, 3)))
