"""Inception Score on hand-made class-probability tables."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ganforge.metrics import inception_score


def test_confident_and_uniform_over_classes_gives_c():
    probs = np.eye(10)[np.arange(100) % 10]  # one-hot rows cycling through the 10 classes
    mean, std = inception_score(probs, splits=10)
    assert mean == pytest.approx(10.0, rel=1e-12)
    assert std == pytest.approx(0.0, abs=1e-12)


def test_identical_samples_give_one():
    row = np.array([0.7, 0.2, 0.1, 0.0])
    mean, std = inception_score(np.tile(row, (40, 1)), splits=4)
    assert mean == pytest.approx(1.0, abs=1e-12)
    assert std == pytest.approx(0.0, abs=1e-12)
    mean, _ = inception_score(np.tile(np.eye(5)[2], (40, 1)), splits=4)  # all confidently class 2
    assert mean == pytest.approx(1.0, abs=1e-12)


def test_two_class_hand_computation():
    # p(y|x1) = (1, 0), p(y|x2) = (1/2, 1/2)  ->  p(y) = (3/4, 1/4)
    # KL1 = 1 * log(1 / (3/4))                              = log(4/3)
    # KL2 = 1/2 * log((1/2) / (3/4)) + 1/2 * log((1/2) / (1/4)) = 1/2 log(2/3) + 1/2 log 2 = 1/2 log(4/3)
    # IS  = exp((KL1 + KL2) / 2) = exp(3/4 log(4/3)) = (4/3) ** 0.75
    probs = np.array([[1.0, 0.0], [0.5, 0.5]])
    mean, std = inception_score(probs, splits=1)
    assert mean == pytest.approx((4 / 3) ** 0.75, rel=1e-12)
    assert mean == pytest.approx(1.2408, abs=1e-4)
    assert std == 0.0


def test_splits_give_mean_and_std_of_split_scores():
    # Split 1 (4 one-hot rows over 2 classes) scores 2; split 2 (4 identical rows) scores 1.
    probs = np.array([[1, 0], [0, 1], [1, 0], [0, 1], [1, 0], [1, 0], [1, 0], [1, 0]], dtype=float)
    mean, std = inception_score(probs, splits=2)
    assert mean == pytest.approx(1.5)
    assert std == pytest.approx(0.5)


def test_zero_probabilities_are_safe_and_torch_accepted():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(50, 6)) * 3
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    probs[:, 0] = 0.0
    probs /= probs.sum(1, keepdims=True)
    mean, std = inception_score(probs, splits=5)
    assert math.isfinite(mean) and math.isfinite(std) and 1.0 <= mean <= 6.0
    got, _ = inception_score(torch.from_numpy(probs).float(), splits=5)
    assert got == pytest.approx(mean, rel=1e-5)


def test_rejects_bad_input():
    with pytest.raises(ValueError):
        inception_score(np.array([[2.0, -1.0]]), splits=1)
    with pytest.raises(ValueError):
        inception_score(np.array([[3.0, 1.0]]), splits=1)  # logits/unnormalised
    with pytest.raises(ValueError):
        inception_score(np.eye(3), splits=4)
