"""Clusters of images, the labels of a self-conditioned GAN (``model.clusters``).

Two methods (``model.cluster_method``), both on the images' pixels (in [0, 1], area-averaged down to
at most 32 x 32 so that a folder of large images clusters as fast as MNIST):

- ``kmeans``: plain Lloyd iterations, seeded k-means++ initialisation, distances computed in chunks
  so that memory stays at chunk x K. On MNIST's 60,000 training digits, 100 clusters hold one digit
  each for 86.6% of the images (the majority digit of each cluster), 10 clusters 59.5%.
- ``spectral``: spectral clustering of the images' nearest-neighbour graph (Ng, Jordan & Weiss 2001;
  von Luxburg 2007): the pixels' first 50 principal components, each image joined to its 10 nearest
  neighbours, the graph's K leading normalised eigenvectors, k-means of those rows (the best of 10
  seeded starts). Neighbours in pixel space mostly share a digit (95.7% of the 10-NN pairs on MNIST),
  so the clusters follow the digits' shapes rather than their ink: 10 clusters hold one digit each
  for 77.3% of the images.

Large data sets (``model.cluster_sample=M``): the method runs on M images drawn with the seed, and every
other image takes the cluster most of its 10 nearest sampled images have (spectral, whose clusters need not
be convex) or its nearest centre (kmeans). The exact graph costs N^2 distances; the sampled one N x M.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..errors import GanforgeError

CHUNK = 8192  # rows per distance computation
MAX_SIDE = 32  # images are area-averaged down to at most this many pixels a side before clustering


def cluster_features(images: torch.Tensor) -> torch.Tensor:
    """N x C x H x W images (uint8, or floats in [-1, 1] as G makes them) -> N x D float pixel vectors in
    [0, 1], area-averaged to at most MAX_SIDE a side. Converted CHUNK images at a time, so that memory
    holds the pooled vectors and one chunk of full-size floats (a 200,000-image folder at 64 px would
    need 10 GB of floats at once)."""
    factor = -(-max(images.shape[-2:]) // MAX_SIDE)  # ceil(side / MAX_SIDE)
    out = []
    for start in range(0, len(images), CHUNK):
        x = images[start:start + CHUNK]
        x = x.float().div_(255.0) if x.dtype == torch.uint8 else (x.float() + 1.0) / 2.0
        if factor > 1:
            x = F.avg_pool2d(x, factor, ceil_mode=True)
        out.append(x.reshape(len(x), -1))
    return torch.cat(out) if len(out) != 1 else out[0]


def feature_dim(shape: tuple[int, ...]) -> int:
    """Length of :func:`cluster_features`' vectors for images of ``shape`` (C, H, W)."""
    return cluster_features(torch.zeros(1, *shape, dtype=torch.uint8)).shape[1]


def nearest_cluster(images: torch.Tensor, centers: torch.Tensor) -> torch.Tensor:
    """The cluster (N,) whose centre (K x D, a mean of :func:`cluster_features` rows) is nearest to
    each image."""
    return nearest_cluster_rows(cluster_features(images), centers)


def _nearest(x: torch.Tensor, centers: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Index of the nearest centre and the squared distance to it, for every row of x."""
    idx, dist = [], []
    for _, d in _squared_distances(x, centers, CHUNK):
        m = d.min(1)
        idx.append(m.indices)
        dist.append(m.values.clamp_(min=0))
    return torch.cat(idx), torch.cat(dist)


def _squared_distances(x: torch.Tensor, y: torch.Tensor, rows: int):
    """(start, rows x len(y) squared Euclidean distances from x[start:start + rows] to every row of y),
    chunk by chunk, so that memory stays at rows x len(y)."""
    y2 = (y * y).sum(1)
    for start in range(0, len(x), rows):
        xs = x[start:start + rows]
        yield start, (xs * xs).sum(1, keepdim=True) - 2.0 * xs @ y.T + y2


def kmeans(x: torch.Tensor, k: int, seed: int = 0, iters: int = 30) -> tuple[torch.Tensor, torch.Tensor]:
    """Lloyd's k-means of the rows of x (N x D float): (assignments (N,), centres (k x D)).

    k-means++ initialisation from a generator seeded with ``seed``; an emptied cluster is re-seeded with
    the point farthest from its centre; stops early when no assignment changes."""
    if not 2 <= k <= len(x):
        raise GanforgeError(f"model.clusters={k} needs between 2 and the number of images ({len(x)})")
    g = torch.Generator().manual_seed(seed)
    x = x.float()
    centers = x[torch.randint(len(x), (1,), generator=g)]
    dist = _nearest(x, centers)[1]
    for _ in range(k - 1):  # k-means++: the next centre drawn in proportion to the squared distance
        pick = torch.multinomial(dist + 1e-12, 1, generator=g)
        centers = torch.cat([centers, x[pick]])
        dist = torch.minimum(dist, ((x - x[pick]) ** 2).sum(1))
    assign = None
    for _ in range(iters):
        new, dist = _nearest(x, centers)
        if assign is not None and torch.equal(new, assign):
            break
        assign = new
        counts = torch.bincount(assign, minlength=k)
        sums = torch.zeros_like(centers).index_add_(0, assign, x)
        centers = sums / counts.clamp(min=1).unsqueeze(1).to(x.dtype)
        for empty in torch.nonzero(counts == 0).flatten().tolist():
            far = int(dist.argmax())
            centers[empty] = x[far]
            dist[far] = 0
    return assign, centers


def principal_basis(x: torch.Tensor, dims: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean (D,), D x dims basis) of the first ``dims`` principal components of the rows of x (N x D;
    randomised SVD, seeded)."""
    mean = x.mean(0)
    dims = min(dims, *x.shape)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        _, _, v = torch.pca_lowrank(x - mean, q=min(dims + 10, *x.shape), center=False, niter=4)
    return mean, v[:, :dims]


def principal_components(x: torch.Tensor, dims: int, seed: int = 0) -> torch.Tensor:
    """The rows of x (N x D) projected on their first ``dims`` principal components (randomised SVD,
    seeded)."""
    mean, basis = principal_basis(x, dims, seed)
    return (x - mean) @ basis


def nearest_neighbours(x: torch.Tensor, n: int, among: torch.Tensor | None = None) -> torch.Tensor:
    """N x n indices of each row's n nearest other rows (Euclidean), computed in chunks; with ``among``
    (M x D), the indices of each row's n nearest rows of ``among`` instead."""
    out = []
    for start, d in _squared_distances(x, x if among is None else among, CHUNK // 4):
        if among is None:
            d[torch.arange(len(d)), torch.arange(start, start + len(d))] = float("inf")  # not itself
        out.append(d.topk(n, dim=1, largest=False, sorted=False).indices)
    return torch.cat(out)


def spectral(x: torch.Tensor, k: int, seed: int = 0, neighbours: int = 10, dims: int = 50,
             starts: int = 10) -> torch.Tensor:
    """Spectral clustering (N,) of the rows of x: the symmetric ``neighbours``-nearest-neighbour graph of
    their first ``dims`` principal components, the k leading eigenvectors of its normalised adjacency
    D^-1/2 W D^-1/2, rows scaled to unit length, and the k-means (of ``starts`` seeded starts) with the
    least within-cluster sum."""
    if not 2 <= k < len(x) or neighbours >= len(x):
        raise GanforgeError(f"model.clusters={k} needs between 2 and the number of images ({len(x)}) "
                            f"and more images than neighbours ({neighbours})")
    return _spectral_points(principal_components(x.float(), dims, seed), k, seed, neighbours, starts)


def _spectral_points(z: torch.Tensor, k: int, seed: int, neighbours: int, starts: int) -> torch.Tensor:
    """:func:`spectral` of rows already projected on their principal components."""
    import numpy as np
    import scipy.sparse as sp
    from scipy.sparse.linalg import eigsh

    n = len(z)
    nbr = nearest_neighbours(z, neighbours).numpy()
    w = sp.csr_matrix((np.ones(nbr.size), (np.repeat(np.arange(n), neighbours), nbr.ravel())), shape=(n, n))
    w = ((w + w.T) > 0).astype(np.float64)  # joined when either is among the other's neighbours
    scale = sp.diags(1.0 / np.sqrt(np.asarray(w.sum(1)).ravel()))
    v0 = np.random.default_rng(seed).standard_normal(n)  # eigsh's start vector, seeded
    _, vecs = eigsh(scale @ w @ scale, k=k, which="LA", v0=v0, tol=1e-6)
    emb = torch.as_tensor(vecs, dtype=torch.float32)
    emb = emb / emb.norm(dim=1, keepdim=True).clamp(min=1e-12)
    best, best_sum = None, float("inf")
    for start in range(starts):
        assign, centers = kmeans(emb, k, seed * starts + start)
        total = float(((emb - centers[assign]) ** 2).sum())
        if total < best_sum:
            best, best_sum = assign, total
    return best


CLUSTER_METHODS = {"kmeans": lambda x, k, seed: kmeans(x, k, seed)[0], "spectral": spectral}


def sampled_clusters(x: torch.Tensor, k: int, seed: int, method: str, sample: int,
                     neighbours: int = 10, dims: int = 50) -> torch.Tensor:
    """``method``'s clusters (N,) of ``sample`` rows of x drawn with ``seed``. For kmeans every other row
    takes its nearest centre; for spectral, the cluster most of its ``neighbours`` nearest sampled rows have,
    in the sample's first ``dims`` principal components."""
    pick = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:sample]
    if method == "kmeans":
        sub_assign, centers = kmeans(x[pick], k, seed)
        assign = nearest_cluster_rows(x, centers)
    else:
        if not 2 <= k < sample or neighbours >= sample:
            raise GanforgeError(f"model.clusters={k} needs between 2 and model.cluster_sample={sample} clusters "
                                f"and a sample larger than {neighbours}")
        mean, basis = principal_basis(x[pick].float(), dims, seed)
        z = torch.cat([(x[i:i + CHUNK].float() - mean) @ basis for i in range(0, len(x), CHUNK)])
        sub_assign = _spectral_points(z[pick], k, seed, neighbours, 10)
        votes = sub_assign[nearest_neighbours(z, neighbours, among=z[pick])]
        assign = torch.mode(votes, dim=1).values
    assign[pick] = sub_assign
    return assign


def nearest_cluster_rows(x: torch.Tensor, centers: torch.Tensor) -> torch.Tensor:
    """The nearest centre (N,) of each row of x (rows of :func:`cluster_features`)."""
    return _nearest(x.float(), centers.float())[0]


def cluster_labels(images: torch.Tensor, k: int, seed: int = 0, method: str = "kmeans",
                   sample: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(cluster (N,) of each N x C x H x W uint8 image, by ``method`` (a :data:`CLUSTER_METHODS` word) on its
    pixels, on ``sample`` images drawn with ``seed`` when 0 < sample < N (see :func:`sampled_clusters`);
    the k centres: each cluster's mean pixels)."""
    x = cluster_features(images.cpu())
    if 0 < sample < len(x):
        assign = sampled_clusters(x, k, seed, method, sample)
    else:
        assign = CLUSTER_METHODS[method](x, k, seed)
    counts = torch.bincount(assign, minlength=k).clamp(min=1).unsqueeze(1).float()
    return assign, torch.zeros(k, x.shape[1]).index_add_(0, assign, x) / counts


def combine_factors(labels: torch.Tensor, k: int) -> torch.Tensor:
    """Per-channel clusters (N x C, each in 0..k-1) -> one label each, sum_c labels[:, c] * k^(C-1-c)
    (for stacked MNIST's digits and k = 10, its mode id 100 a + 10 b + c)."""
    out = torch.zeros(len(labels), dtype=torch.long, device=labels.device)
    for c in range(labels.shape[1]):
        out = out * k + labels[:, c].long()
    return out


def split_factors(ids: torch.Tensor, k: int, factors: int) -> torch.Tensor:
    """The inverse of :func:`combine_factors`: labels (N,) -> N x ``factors`` per-channel clusters."""
    cols = []
    for _ in range(factors):
        cols.append(ids % k)
        ids = torch.div(ids, k, rounding_mode="floor")
    return torch.stack(cols[::-1], dim=1)


def channel_images(images: torch.Tensor) -> torch.Tensor:
    """N x C x H x W images -> (N * C) x 1 x H x W: each channel as an image of its own."""
    return images.reshape(-1, 1, *images.shape[2:])


def channel_cluster_labels(images: torch.Tensor, k: int, seed: int = 0, method: str = "kmeans",
                           sample: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Each channel of N x C x H x W uint8 images clustered as a one-channel image (``model.cluster_channels``):
    (N x C clusters, the k centres, mean pixels of one channel). All channels share one clustering; a channel
    image that occurs more than once (stacked MNIST draws its channels from MNIST's 60,000 digits) is
    clustered once, so the cost is that of the distinct channel images."""
    flat = channel_images(images.cpu()).reshape(len(images) * images.shape[1], -1)
    distinct, inverse = torch.unique(flat, dim=0, return_inverse=True)
    assign, centers = cluster_labels(distinct.reshape(-1, 1, *images.shape[2:]), k, seed, method, sample)
    return assign[inverse].reshape(len(images), images.shape[1]), centers


def nearest_channel_clusters(images: torch.Tensor, centers: torch.Tensor) -> torch.Tensor:
    """The per-channel clusters (N x C) whose one-channel centres are nearest to each channel of the images."""
    return nearest_cluster(channel_images(images), centers).reshape(len(images), images.shape[1])
