"""Mode statistics on the toy mixtures (PacGAN Table 1) and stacked MNIST digits."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ganforge.data.toy import mixture_centers
from ganforge.metrics import stacked_mode_stats, toy_mode_stats


def ring8_centers() -> np.ndarray:
    return mixture_centers("ring8").double().numpy()


def grid25_centers() -> np.ndarray:
    return mixture_centers("grid25").double().numpy()


def _mixture_samples(centers: np.ndarray, std: float, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    modes = rng.integers(0, len(centers), n)
    return centers[modes] + std * rng.normal(size=(n, 2))


def test_centers():
    ring = ring8_centers()
    assert ring.shape == (8, 2) and ring.dtype == np.float64
    np.testing.assert_allclose(np.linalg.norm(ring, axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(ring[2], [0.0, 1.0], atol=1e-7)  # angle 2 pi * 2 / 8 = pi / 2
    grid = grid25_centers()
    assert grid.shape == (25, 2)
    assert {tuple(p) for p in grid} == {(a, b) for a in (-4, -2, 0, 2, 4) for b in (-4, -2, 0, 2, 4)}


@pytest.mark.parametrize("name,centers,std", [("ring8", ring8_centers(), 0.01), ("grid25", grid25_centers(), 0.05)])
def test_true_samples_cover_every_mode(name, centers, std):
    pts = _mixture_samples(centers, std, 2500, seed=0)
    out = toy_mode_stats(pts, centers, std)
    assert out["modes"] == len(centers), name
    assert out["high_quality"] >= 0.985
    assert 0.0 <= out["reverse_kl"] < 0.01
    assert len(out["counts"]) == len(centers) and all(isinstance(c, int) for c in out["counts"])
    assert sum(out["counts"]) == round(out["high_quality"] * 2500)


@pytest.mark.parametrize("centers,std", [(ring8_centers(), 0.01), (grid25_centers(), 0.05)])
def test_collapsed_samples(centers, std):
    pts = np.tile(centers[3], (500, 1))
    out = toy_mode_stats(pts, centers, std)
    assert out["modes"] == 1 and out["high_quality"] == 1.0
    assert out["reverse_kl"] == pytest.approx(math.log(len(centers)), rel=1e-12)
    assert out["counts"][3] == 500


def test_high_quality_threshold_min_count_and_no_hq_samples():
    centers = ring8_centers()
    pts = np.array([[1.0, 0.0], [1.025, 0.0], [1.035, 0.0], [0.0, 1.0], [0.0, 1.0], [0.5, 0.5]])
    out = toy_mode_stats(pts, centers, std=0.01)  # 3 std = 0.03: 0.025 in, 0.035 out, (.5,.5) out
    assert out["counts"][0] == 2 and out["counts"][2] == 2 and out["modes"] == 2
    assert out["high_quality"] == pytest.approx(4 / 6)
    assert out["reverse_kl"] == pytest.approx(math.log(8 / 2))  # p = (1/2, 1/2) over 2 of 8 modes
    assert toy_mode_stats(pts, centers, std=0.01, min_count=3)["modes"] == 0
    assert toy_mode_stats(pts, centers, std=0.01, threshold=4.0)["counts"][0] == 3
    none = toy_mode_stats(np.full((10, 2), 10.0), centers, std=0.01)
    assert none["modes"] == 0 and none["high_quality"] == 0.0 and none["reverse_kl"] == float("inf")


def test_toy_accepts_torch_tensors():
    centers = grid25_centers()
    pts = _mixture_samples(centers, 0.05, 300, seed=1)
    expected = toy_mode_stats(pts, centers, 0.05)
    assert toy_mode_stats(torch.from_numpy(pts), torch.from_numpy(centers), 0.05) == expected


def test_stacked_uniform_digits():
    digits = np.random.default_rng(0).integers(0, 10, size=(26000, 3))
    out = stacked_mode_stats(digits)
    assert out["modes"] >= 990
    assert 0.0 <= out["kl"] < 0.05
    assert len(out["counts"]) == 1000 and sum(out["counts"]) == 26000


def test_stacked_identical_and_mode_ids():
    out = stacked_mode_stats(np.tile([4, 0, 7], (100, 1)))
    assert out["modes"] == 1
    assert out["kl"] == pytest.approx(math.log(1000), rel=1e-12)
    assert out["counts"][407] == 100
    two = stacked_mode_stats(np.array([[0, 0, 1], [1, 0, 0]]))
    assert two["counts"][1] == 1 and two["counts"][100] == 1 and two["modes"] == 2
    assert two["kl"] == pytest.approx(math.log(500))


def test_stacked_validation():
    with pytest.raises(ValueError):
        stacked_mode_stats(np.zeros((5, 2), dtype=int))
    with pytest.raises(ValueError):
        stacked_mode_stats(np.array([[0, 10, 1]]))
    with pytest.raises(ValueError):
        stacked_mode_stats(np.array([[0.5, 1, 1]]))
