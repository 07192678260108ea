"""Precision / recall and density / coverage of generated samples in a feature space.

- Precision and recall: Kynkäänniemi, Karras, Laine, Lehtinen & Aila, "Improved Precision and
  Recall Metric for Assessing Generative Models", NeurIPS 2019 (arXiv:1904.06991).
- Density and coverage: Naeem, Oh, Uh, Choi & Yoo, "Reliable Fidelity and Diversity Metrics for
  Generative Models", ICML 2020 (arXiv:2002.09797).

With real samples X (N of them), fake samples Y (M of them), B(x, r) the closed ball of radius r
around x and NND_k(x) the distance from x to its k-th nearest neighbour within its own set (the
point itself excluded)::

    precision = 1/M sum_j 1[ exists i: Y_j in B(X_i, NND_k(X_i)) ]
    recall    = 1/N sum_i 1[ exists j: X_i in B(Y_j, NND_k(Y_j)) ]
    density   = 1/(k M) sum_j sum_i 1[ Y_j in B(X_i, NND_k(X_i)) ]
    coverage  = 1/N sum_i 1[ exists j: Y_j in B(X_i, NND_k(X_i)) ]

"Inside a ball" means distance <= radius (closed ball), as in Kynkäänniemi et al.'s definition.
So a set compared with itself has precision = recall = coverage = 1 and density = (k + 1) / k
(each ball holds its centre and its k neighbours); independent samples of one distribution give
density ~ 1. (Naeem et al.'s reference code uses a strict "<", which gives 1 for a set compared
with itself.)

Distances are Euclidean, from ``torch.cdist`` (matrix-product form, after subtracting the real
mean) on row chunks: no more than one (chunk_size, N) distance matrix is held at a time. The k-NN
radii are computed with the same row/column roles (rows: fake-side points, columns: real-side
points) as the fake-to-real distances they are compared with, so in practice a fake sample that
duplicates a real sample's neighbour lands exactly on the radius rather than a rounding off it.
float64 inputs are computed in float64, everything else in float32; torch tensors stay on their
device.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["precision_recall", "density_coverage", "prdc"]

DEFAULT_CHUNK = 2048


def _to_tensor(x) -> torch.Tensor:
    t = x.detach() if isinstance(x, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(np.asarray(x)))
    if t.ndim != 2 or t.shape[0] == 0:
        raise ValueError(f"features must be a non-empty 2-D (N, D) array, got shape {tuple(t.shape)}")
    if t.dtype == torch.float64 or not t.is_floating_point():
        return t.to(torch.float64)
    return t.to(torch.float32)


def _pair(real, fake) -> tuple[torch.Tensor, torch.Tensor]:
    r, f = _to_tensor(real), _to_tensor(fake)
    if r.shape[1] != f.shape[1]:
        raise ValueError(f"feature dimensions differ: {r.shape[1]} vs {f.shape[1]}")
    dtype = torch.promote_types(r.dtype, f.dtype)
    return r.to(dtype), f.to(device=r.device, dtype=dtype)


def _distances(rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """Euclidean distances, always by the same (matrix-product) formula, so that a distance that
    is both a k-NN radius and a real-to-fake distance is computed the same way in both places."""
    return torch.cdist(rows, cols, compute_mode="use_mm_for_euclid_dist")


def _knn_radii(x: torch.Tensor, ks: list[int], chunk: int, by_column: bool) -> dict[int, torch.Tensor]:
    """{k: distance from each row of x to its k-th nearest other row} for every k in ks.

    Distances are taken as ``_distances(x[chunk], x)``: with ``by_column`` the point whose radius
    is computed is the column argument (as the real points are in the real-to-fake pass), and the
    k smallest values per column are merged across chunks; otherwise it is the row argument.
    """
    n = x.shape[0]
    kmax = max(ks)
    if min(ks) < 1 or kmax >= n:
        raise ValueError(f"k must be in [1, {n - 1}] for a set of {n} samples, got {ks}")
    cols = torch.tensor(ks, device=x.device)
    radii = torch.empty(n, len(ks), dtype=x.dtype, device=x.device)
    best = None  # by_column: the (<= kmax + 1, n) smallest distances seen so far, per column
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        d = _distances(x[start:stop], x)
        rows = torch.arange(stop - start, device=x.device)
        d[rows, rows + start] = 0.0  # exact self-distance, so exactly one self is dropped below
        if by_column:
            cand = d if best is None else torch.cat([best, d], dim=0)
            best = torch.topk(cand, min(kmax + 1, cand.shape[0]), dim=0, largest=False).values
        else:  # ascending k + 1 smallest per row; column 0 is the point itself
            radii[start:stop] = torch.topk(d, kmax + 1, dim=1, largest=False).values[:, cols]
    if by_column:
        radii = best[cols].T
    return {k: radii[:, i] for i, k in enumerate(ks)}


@torch.no_grad()
def _compute(real, fake, k_pr: int | None, k_dc: int | None, chunk: int) -> dict[str, float]:
    if chunk < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk}")
    x, y = _pair(real, fake)
    center = x.mean(dim=0)  # translation-invariant; smaller norms make the distances more accurate
    x, y = x - center, y - center
    n, m = x.shape[0], y.shape[0]
    ks = sorted({k for k in (k_pr, k_dc) if k is not None})
    r_real = _knn_radii(x, ks, chunk, by_column=True)
    r_fake = _knn_radii(y, [k_pr], chunk, by_column=False)[k_pr] if k_pr is not None else None

    precise = torch.zeros(m, dtype=torch.bool, device=x.device)      # fake j inside some real ball
    inside_count = torch.zeros(m, dtype=torch.float64, device=x.device)  # number of real balls
    recalled = torch.zeros(n, dtype=torch.bool, device=x.device)     # real i inside some fake ball
    nearest_fake = torch.full((n,), float("inf"), dtype=x.dtype, device=x.device)

    for start in range(0, m, chunk):
        stop = min(start + chunk, m)
        d = _distances(y[start:stop], x)  # (chunk, N): fake rows, real columns
        if k_pr is not None:
            precise[start:stop] = (d <= r_real[k_pr]).any(dim=1)
            recalled |= (d <= r_fake[start:stop, None]).any(dim=0)
        if k_dc is not None:
            inside_count[start:stop] = (d <= r_real[k_dc]).sum(dim=1).to(torch.float64)
            nearest_fake = torch.minimum(nearest_fake, d.min(dim=0).values)

    out: dict[str, float] = {}
    if k_pr is not None:
        out["precision"] = precise.double().mean().item()
        out["recall"] = recalled.double().mean().item()
    if k_dc is not None:
        out["density"] = (inside_count.sum() / (k_dc * m)).item()
        out["coverage"] = (nearest_fake <= r_real[k_dc]).double().mean().item()
    return out


def precision_recall(real, fake, k: int = 3, *, chunk_size: int = DEFAULT_CHUNK) -> dict[str, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019) with k-NN balls."""
    return _compute(real, fake, k_pr=k, k_dc=None, chunk=chunk_size)


def density_coverage(real, fake, k: int = 5, *, chunk_size: int = DEFAULT_CHUNK) -> dict[str, float]:
    """Density and coverage (Naeem et al. 2020) with k-NN balls around the real samples."""
    return _compute(real, fake, k_pr=None, k_dc=k, chunk=chunk_size)


def prdc(real, fake, k_pr: int = 3, k_dc: int = 5, *, chunk_size: int = DEFAULT_CHUNK) -> dict[str, float]:
    """Precision, recall (k = k_pr), density and coverage (k = k_dc) in one pass over the data."""
    return _compute(real, fake, k_pr=k_pr, k_dc=k_dc, chunk=chunk_size)
