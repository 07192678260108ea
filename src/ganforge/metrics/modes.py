"""Mode-collapse statistics for the toy 2-D mixtures and stacked MNIST.

Following Lin, Khetan, Fanti & Oh, "PacGAN: The power of two samples in generative adversarial
networks", NeurIPS 2018 (arXiv:1712.04086), Table 1 (2-D mixtures) and Table 2 (stacked MNIST,
itself from Metz et al. 2017 / Srivastava et al. 2017 "VEEGAN"):

- 2-D mixtures (centres from :mod:`ganforge.data.toy`: ``ring8``: 8 modes on a circle of radius 1, std 0.01; ``grid25``: 25 modes at
  {-4, -2, 0, 2, 4}^2, std 0.05). Each sample is assigned to its nearest centre. A sample is
  *high quality* when that distance is <= ``threshold * std`` (3 standard deviations by default).
  A mode is *covered* when at least ``min_count`` (default 1) high-quality samples are assigned
  to it. ``reverse_kl`` = KL(p || uniform over the K modes), with p the histogram of high-quality
  samples over modes (0 log 0 = 0); it is ``inf`` when there are no high-quality samples.
- Stacked MNIST: a sample is three digits (d0, d1, d2) read by a classifier, its mode is
  ``100 d0 + 10 d1 + d2`` (1000 modes). ``modes`` counts modes hit at least once and
  ``kl`` = KL(p || uniform over 1000) for the histogram p of all samples.
"""

from __future__ import annotations

import numpy as np

__all__ = ["toy_mode_stats", "stacked_mode_stats"]

STACKED_MODES = 1000


def _as_array(x, dtype) -> np.ndarray:
    if hasattr(x, "detach"):  # torch.Tensor, without importing torch
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=dtype)


def _kl_to_uniform(counts: np.ndarray) -> float:
    """KL(p || uniform over len(counts)) for the histogram ``counts``; inf when it is empty."""
    total = counts.sum()
    if total == 0:
        return float("inf")
    p = counts[counts > 0] / total
    return max(float(np.sum(p * np.log(p * len(counts)))), 0.0)


def toy_mode_stats(points, centers, std: float, threshold: float = 3.0, min_count: int = 1) -> dict:
    """Modes covered, fraction of high-quality samples and reverse KL for 2-D mixture samples.

    Returns ``dict(modes=int, high_quality=float, reverse_kl=float, counts=list[int])`` where
    ``counts[k]`` is the number of high-quality samples assigned to centre k.
    """
    pts = _as_array(points, np.float64)
    ctr = _as_array(centers, np.float64)
    if pts.ndim != 2 or ctr.ndim != 2 or pts.shape[1] != ctr.shape[1] or len(ctr) == 0:
        raise ValueError(f"points (N, D) and centers (K, D) expected, got {pts.shape} and {ctr.shape}")
    if std <= 0 or threshold <= 0 or min_count < 1:
        raise ValueError("std and threshold must be > 0 and min_count >= 1")
    k = ctr.shape[0]
    if pts.shape[0] == 0:
        return {"modes": 0, "high_quality": 0.0, "reverse_kl": float("inf"), "counts": [0] * k}
    dist = np.linalg.norm(pts[:, None, :] - ctr[None, :, :], axis=2)  # (N, K)
    nearest = dist.argmin(axis=1)
    high_quality = dist[np.arange(len(pts)), nearest] <= threshold * std
    counts = np.bincount(nearest[high_quality], minlength=k)
    return {
        "modes": int((counts >= min_count).sum()),
        "high_quality": float(high_quality.mean()),
        "reverse_kl": _kl_to_uniform(counts),
        "counts": [int(c) for c in counts],
    }


def stacked_mode_stats(digits) -> dict:
    """Modes hit and KL to uniform for stacked-MNIST samples given as (N, 3) digits in 0..9.

    Returns ``dict(modes=int, kl=float, counts=list[int])`` with ``counts`` of length 1000.
    """
    d = _as_array(digits, np.float64)
    if d.ndim != 2 or d.shape[1] != 3:
        raise ValueError(f"digits must have shape (N, 3), got {d.shape}")
    if not np.all(d == np.round(d)) or d.min(initial=0) < 0 or d.max(initial=0) > 9:
        raise ValueError("digits must be integers in 0..9")
    d = d.astype(np.int64)
    ids = 100 * d[:, 0] + 10 * d[:, 1] + d[:, 2]
    counts = np.bincount(ids, minlength=STACKED_MODES)
    return {
        "modes": int((counts >= 1).sum()),
        "kl": _kl_to_uniform(counts),
        "counts": [int(c) for c in counts],
    }
