"""Kernel Inception Distance (KID).

Bińkowski, Sutherland, Arbel & Gretton, "Demystifying MMD GANs", ICLR 2018 (arXiv:1801.01401).

KID is the squared maximum mean discrepancy between the two feature distributions under the
polynomial kernel ``k(x, y) = (gamma * x.y + coef0) ** degree`` (``gamma = 1 / D`` by default,
giving the paper's cubic kernel ``(x.y / D + 1) ** 3``). For each of ``num_subsets`` random subsets
of ``m`` real samples X and ``m`` fake samples Y, the unbiased estimate is::

    MMD^2_u = 1/(m(m-1)) sum_{i != j} k(x_i, x_j) + 1/(m(m-1)) sum_{i != j} k(y_i, y_j)
              - 2/m^2 sum_{i, j} k(x_i, y_j)

and KID is reported as the mean and (population, ddof=0) standard deviation over the subsets.
The unbiased estimate can be slightly negative when the distributions agree.
"""

from __future__ import annotations

import numpy as np

__all__ = ["kernel_inception_distance", "polynomial_mmd2_unbiased"]


def _as_features(x) -> np.ndarray:
    """A float64 (N, D) array from a numpy array, a sequence or a torch tensor."""
    if hasattr(x, "detach"):  # torch.Tensor, without importing torch
        x = x.detach().cpu().numpy()
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"features must be a 2-D (N, D) array, got shape {x.shape}")
    return x


def _kernel(a: np.ndarray, b: np.ndarray, degree: int, gamma: float, coef0: float) -> np.ndarray:
    return (gamma * (a @ b.T) + coef0) ** degree


def polynomial_mmd2_unbiased(x, y, degree: int = 3, gamma: float | None = None,
                             coef0: float = 1.0) -> float:
    """Unbiased MMD^2 between samples ``x`` (m, D) and ``y`` (n, D) under the polynomial kernel."""
    x, y = _as_features(x), _as_features(y)
    m, n = x.shape[0], y.shape[0]
    if m < 2 or n < 2:
        raise ValueError("each sample set needs at least 2 points")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"feature dimensions differ: {x.shape[1]} vs {y.shape[1]}")
    g = 1.0 / x.shape[1] if gamma is None else float(gamma)
    k_xx = _kernel(x, x, degree, g, coef0)
    k_yy = _kernel(y, y, degree, g, coef0)
    k_xy = _kernel(x, y, degree, g, coef0)
    term_xx = (k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
    term_yy = (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
    term_xy = k_xy.sum() / (m * n)
    return float(term_xx + term_yy - 2.0 * term_xy)


def kernel_inception_distance(real_feats, fake_feats, num_subsets: int = 100, subset_size: int = 1000,
                              degree: int = 3, gamma: float | None = None, coef0: float = 1.0,
                              seed: int = 0) -> tuple[float, float]:
    """KID as ``(mean, std)`` of the unbiased polynomial-kernel MMD^2 over random subsets.

    Each subset takes ``min(subset_size, len(real), len(fake))`` rows of each set, drawn without
    replacement (within a subset) by ``numpy.random.default_rng(seed)``.
    """
    real, fake = _as_features(real_feats), _as_features(fake_feats)
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"feature dimensions differ: {real.shape[1]} vs {fake.shape[1]}")
    if num_subsets < 1:
        raise ValueError(f"num_subsets must be >= 1, got {num_subsets}")
    m = min(int(subset_size), real.shape[0], fake.shape[0])
    if m < 2:
        raise ValueError(f"subsets need at least 2 samples per set, got {m}")
    rng = np.random.default_rng(seed)
    values = np.empty(num_subsets, dtype=np.float64)
    for s in range(num_subsets):
        x = real[rng.choice(real.shape[0], m, replace=False)]
        y = fake[rng.choice(fake.shape[0], m, replace=False)]
        values[s] = polynomial_mmd2_unbiased(x, y, degree=degree, gamma=gamma, coef0=coef0)
    return float(values.mean()), float(values.std())
