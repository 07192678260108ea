"""Fréchet Inception Distance (FID).

Heusel, Ramsauer, Unterthiner, Nessler & Hochreiter, "GANs Trained by a Two Time-Scale Update
Rule Converge to a Local Nash Equilibrium", NeurIPS 2017 (arXiv:1706.08500).

Both feature sets are summarised by a Gaussian N(mu, sigma) and compared with the Fréchet
(2-Wasserstein) distance between Gaussians (Dowson & Landau 1982)::

    d^2 = ||mu1 - mu2||^2 + Tr(sigma1 + sigma2 - 2 (sigma1 sigma2)^(1/2))

The matrix square root is taken with :func:`scipy.linalg.sqrtm`. When the product of the
covariances is (near-)singular, e.g. fewer samples than feature dimensions, the square root may be
non-finite or pick up a spurious imaginary part; then ``eps * I`` is added to both covariances and
the square root is recomputed, as the reference pytorch-fid implementation does.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import linalg

__all__ = ["feature_statistics", "frechet_distance", "fid_from_features"]

# Largest |imaginary part| on the diagonal of sqrtm(sigma1 sigma2) that is treated as round-off.
_IMAG_ATOL = 1e-3


def _as_features(x) -> np.ndarray:
    """A float64 (N, D) array from a numpy array, a sequence or a torch tensor."""
    if hasattr(x, "detach"):  # torch.Tensor, without importing torch
        x = x.detach().cpu().numpy()
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"features must be a 2-D (N, D) array, got shape {x.shape}")
    return x


def feature_statistics(features) -> tuple[np.ndarray, np.ndarray]:
    """Mean (D,) and unbiased covariance (D, D) of ``features`` (N, D), both float64."""
    x = _as_features(features)
    if x.shape[0] < 2:
        raise ValueError(f"need at least 2 samples for a covariance, got {x.shape[0]}")
    mu = x.mean(axis=0)
    sigma = np.atleast_2d(np.cov(x, rowvar=False, ddof=1))
    return mu, sigma


def _sqrtm(a: np.ndarray) -> np.ndarray:
    """scipy's sqrtm without its singular-matrix warnings (the caller checks the result)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        return linalg.sqrtm(a)


def _usable(covmean: np.ndarray) -> bool:
    """Finite, and any imaginary part on the diagonal is round-off."""
    if not np.isfinite(covmean).all():
        return False
    return not np.iscomplexobj(covmean) or np.allclose(np.diagonal(covmean).imag, 0, atol=_IMAG_ATOL)


def frechet_distance(mu1, sigma1, mu2, sigma2, eps: float = 1e-6) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2), as a python float >= 0.

    If ``sqrtm(sigma1 @ sigma2)`` is not finite or has a non-negligible imaginary part, it is
    recomputed with ``eps * I`` added to both covariances. A remaining imaginary part larger than
    1e-3 on the diagonal raises ``ValueError``; a smaller one is dropped. Tiny negative results from
    round-off are clamped to 0.
    """
    mu1 = np.atleast_1d(np.asarray(mu1, dtype=np.float64))
    mu2 = np.atleast_1d(np.asarray(mu2, dtype=np.float64))
    sigma1 = np.atleast_2d(np.asarray(sigma1, dtype=np.float64))
    sigma2 = np.atleast_2d(np.asarray(sigma2, dtype=np.float64))
    if mu1.shape != mu2.shape or mu1.ndim != 1:
        raise ValueError(f"mean vectors have different or bad shapes: {mu1.shape} vs {mu2.shape}")
    d = mu1.shape[0]
    if sigma1.shape != (d, d) or sigma2.shape != (d, d):
        raise ValueError(f"covariances must be ({d}, {d}), got {sigma1.shape} and {sigma2.shape}")

    diff = mu1 - mu2
    covmean = _sqrtm(sigma1 @ sigma2)
    if not _usable(covmean):
        offset = np.eye(d) * eps
        covmean = _sqrtm((sigma1 + offset) @ (sigma2 + offset))

    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=_IMAG_ATOL):
            worst = float(np.max(np.abs(np.diagonal(covmean).imag)))
            raise ValueError(f"sqrtm(sigma1 @ sigma2) has an imaginary component of {worst:.3g}")
        covmean = covmean.real
    if not np.isfinite(covmean).all():
        raise ValueError("sqrtm(sigma1 @ sigma2) is not finite, even with eps added")

    value = float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covmean))
    return max(value, 0.0)


def fid_from_features(real_feats, fake_feats) -> float:
    """FID between two (N, D) feature arrays (e.g. Inception pool3 activations)."""
    mu1, sigma1 = feature_statistics(real_feats)
    mu2, sigma2 = feature_statistics(fake_feats)
    if mu1.shape != mu2.shape:
        raise ValueError(f"feature dimensions differ: {mu1.shape[0]} vs {mu2.shape[0]}")
    return frechet_distance(mu1, sigma1, mu2, sigma2)
