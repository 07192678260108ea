"""Precision/recall and density/coverage against a direct O(n^2) numpy implementation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist

from ganforge.metrics import density_coverage, prdc, precision_recall


def _naive(real, fake, k_pr, k_dc) -> dict:
    """All four metrics from full distance matrices; 'inside' = distance <= radius."""
    d_rr, d_ff, d_fr = cdist(real, real), cdist(fake, fake), cdist(fake, real)  # d_fr[j, i]
    # Sorted rows start with the point itself (distance 0), so column k is the k-th neighbour.
    r_real_pr = np.sort(d_rr, axis=1)[:, k_pr]
    r_real_dc = np.sort(d_rr, axis=1)[:, k_dc]
    r_fake_pr = np.sort(d_ff, axis=1)[:, k_pr]
    precision = np.mean([any(d_fr[j, i] <= r_real_pr[i] for i in range(len(real))) for j in range(len(fake))])
    recall = np.mean([any(d_fr[j, i] <= r_fake_pr[j] for j in range(len(fake))) for i in range(len(real))])
    inside = d_fr <= r_real_dc[None, :]
    density = inside.sum() / (k_dc * len(fake))
    coverage = np.mean([inside[:, i].any() for i in range(len(real))])
    return {"precision": precision, "recall": recall, "density": density, "coverage": coverage}


def _assert_close(got: dict, expected: dict):
    assert set(got) == set(expected)
    for key, value in expected.items():
        assert isinstance(got[key], float)
        assert got[key] == pytest.approx(value, abs=1e-12), key


@pytest.mark.parametrize("shift,scale", [(0.0, 1.0), (0.7, 1.0), (0.0, 0.4), (1.5, 2.0)])
def test_matches_naive_implementation(shift, scale):
    rng = np.random.default_rng(0)
    real = rng.normal(size=(200, 5))
    fake = rng.normal(size=(180, 5)) * scale + shift
    expected = _naive(real, fake, k_pr=3, k_dc=5)
    _assert_close(prdc(real, fake), expected)
    _assert_close(prdc(real, fake, chunk_size=64), expected)  # chunking does not change anything


def test_separate_functions_match_prdc():
    rng = np.random.default_rng(6)
    real, fake = rng.normal(size=(150, 5)), rng.normal(size=(120, 5)) + 0.5
    expected = _naive(real, fake, k_pr=4, k_dc=2)
    _assert_close(precision_recall(real, fake, k=4), {k: expected[k] for k in ("precision", "recall")})
    _assert_close(density_coverage(real, fake, k=2), {k: expected[k] for k in ("density", "coverage")})


def test_other_k_values():
    rng = np.random.default_rng(1)
    real, fake = rng.normal(size=(120, 4)), rng.normal(size=(150, 4)) + 0.3
    _assert_close(prdc(real, fake, k_pr=1, k_dc=10, chunk_size=50), _naive(real, fake, 1, 10))


@pytest.mark.parametrize("k_dc", [3, 5])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_identical_sets(k_dc, dtype):
    rng = np.random.default_rng(2)
    real = (rng.normal(size=(300, 8)) + 3.0).astype(dtype)
    fake = real[rng.permutation(300)]  # same points, other order
    out = prdc(real, fake, k_dc=k_dc, chunk_size=64)
    assert out["precision"] == 1.0 and out["recall"] == 1.0 and out["coverage"] == 1.0
    # Each real ball holds its centre plus its k nearest neighbours: density = (k + 1) / k exactly.
    assert out["density"] == pytest.approx((k_dc + 1) / k_dc, abs=1e-12)


def test_independent_samples_of_one_distribution_have_density_near_one():
    rng = np.random.default_rng(5)
    out = prdc(rng.normal(size=(1000, 8)), rng.normal(size=(1000, 8)))
    assert out["density"] == pytest.approx(1.0, abs=0.1)
    assert out["coverage"] > 0.9 and out["precision"] > 0.8 and out["recall"] > 0.8


def test_disjoint_far_apart_sets_score_zero():
    rng = np.random.default_rng(3)
    real = rng.normal(size=(100, 6))
    fake = rng.normal(size=(100, 6)) + 100.0
    assert prdc(real, fake) == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


def test_float32_and_torch_inputs():
    rng = np.random.default_rng(4)
    real, fake = rng.normal(size=(150, 5)), rng.normal(size=(150, 5)) + 0.5
    expected = prdc(real, fake)
    got = prdc(torch.from_numpy(real).float(), torch.from_numpy(fake).float())
    for key in expected:  # float32 distances may flip a handful of near-boundary decisions
        assert got[key] == pytest.approx(expected[key], abs=0.02)


def test_validation():
    real = np.zeros((5, 3))
    with pytest.raises(ValueError):
        prdc(real, np.zeros((5, 2)))
    with pytest.raises(ValueError):
        precision_recall(real, real, k=5)  # needs at least k + 1 points
    with pytest.raises(ValueError):
        density_coverage(real, real, k=0)
