"""Class frequencies of unlabelled samples (metric 'class_freq')."""

import numpy as np
import pytest

from ganforge.metrics import class_frequencies


def test_class_frequencies_by_hand():
    probs = np.eye(3)[[0, 0, 1, 2, 2, 2, 2, 1]]  # predictions: 2 zeros, 2 ones, 4 twos
    ref = np.array([0, 1, 2, 2])  # 25%, 25%, 50%
    r = class_frequencies(probs, ref)
    assert r["class_freq"] == pytest.approx([0.25, 0.25, 0.5])
    assert r["class_freq_ref"] == pytest.approx([0.25, 0.25, 0.5])
    assert r["class_freq_max_dev"] == pytest.approx(0.0)
    r = class_frequencies(np.eye(3)[[0, 0, 0, 1]], ref)  # 75%, 25%, 0%
    assert r["class_freq_max_dev"] == pytest.approx(50.0)  # class 2: 0% vs 50%


def test_class_frequencies_use_the_argmax_and_count_absent_classes():
    probs = np.array([[0.2, 0.7, 0.1], [0.5, 0.3, 0.2]])
    r = class_frequencies(probs, np.array([0, 1, 2]))
    assert r["class_freq"] == pytest.approx([0.5, 0.5, 0.0])
    assert r["class_freq_max_dev"] == pytest.approx(100 / 3)
