"""Inception Score (IS).

Salimans, Goodfellow, Zaremba, Cheung, Radford & Chen, "Improved Techniques for Training GANs",
NeurIPS 2016 (arXiv:1606.03498)::

    IS = exp( E_x KL( p(y|x) || p(y) ) ),   p(y) = E_x p(y|x)

computed separately on ``splits`` consecutive chunks of the samples (p(y) is the chunk's mean);
the result is the mean and (population, ddof=0) standard deviation of the per-chunk scores.
IS ranges from 1 (every sample has the same class distribution) to C (confident predictions
spread evenly over all C classes).

Zero probabilities are handled exactly with ``scipy.special.xlogy`` (0 log 0 = 0): where
p(y|x) > 0 the marginal p(y) is also > 0, so no epsilon is needed.
"""

from __future__ import annotations

import numpy as np
from scipy.special import xlogy

__all__ = ["inception_score"]

# How far a row of ``probs`` may sum away from 1 before it is rejected (rows are then renormalised).
_ROW_SUM_ATOL = 1e-3


def _as_probs(probs) -> np.ndarray:
    if hasattr(probs, "detach"):  # torch.Tensor, without importing torch
        probs = probs.detach().cpu().numpy()
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or p.shape[0] == 0 or p.shape[1] == 0:
        raise ValueError(f"probs must be a non-empty (N, C) array, got shape {p.shape}")
    if not np.isfinite(p).all() or (p < 0).any():
        raise ValueError("probs must be finite and non-negative")
    sums = p.sum(axis=1, keepdims=True)
    if not np.allclose(sums, 1.0, atol=_ROW_SUM_ATOL):
        raise ValueError("each row of probs must sum to 1 (pass softmax outputs, not logits)")
    return p / sums


def _split_score(p: np.ndarray) -> float:
    marginal = p.mean(axis=0, keepdims=True)
    kl = (xlogy(p, p) - xlogy(p, marginal)).sum(axis=1)
    return float(np.exp(kl.mean()))


def inception_score(probs, splits: int = 10) -> tuple[float, float]:
    """Inception Score ``(mean, std)`` over ``splits`` chunks of the (N, C) class probabilities."""
    p = _as_probs(probs)
    if not 1 <= splits <= p.shape[0]:
        raise ValueError(f"splits must be in [1, N={p.shape[0]}], got {splits}")
    scores = np.array([_split_score(chunk) for chunk in np.array_split(p, splits, axis=0)])
    return float(scores.mean()), float(scores.std())
