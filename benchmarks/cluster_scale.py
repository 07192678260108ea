"""Spectral clusters at scale (model.cluster_sample): the exact nearest-neighbour graph against a sampled
one, on MNIST's 60,000 training digits (time, purity, agreement), and the sampled method's time on a large
image folder.

    GANFORGE_DATA=../shared/data .venv/bin/python benchmarks/cluster_scale.py [--k 20] [--sample 20000]
        [--folder DIR --size 64]

Purity: the share of images whose digit is their cluster's majority digit. Agreement: the share of images
whose sampled cluster, mapped to the exact cluster it overlaps most, is their exact cluster.
"""

from __future__ import annotations

import argparse
import time

import torch


def purity(assign: torch.Tensor, truth: torch.Tensor, k: int) -> float:
    table = torch.zeros(k, int(truth.max()) + 1, dtype=torch.long)
    table.index_put_((assign, truth), torch.ones_like(assign), accumulate=True)
    return float(table.max(1).values.sum()) / len(assign)


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main() -> None:
    from ganforge.data.clusters import cluster_labels
    from ganforge.data.folder import load_folder
    from ganforge.data.mnist import load_idx_set

    ap = argparse.ArgumentParser()
    ap.add_argument("--k", type=int, default=20)
    ap.add_argument("--sample", type=int, default=20000)
    ap.add_argument("--folder", default="")
    ap.add_argument("--size", type=int, default=64)
    args = ap.parse_args()
    images, digits = load_idx_set("mnist", "train")
    (exact, _), t_exact = timed(lambda: cluster_labels(images, args.k, 0, "spectral"))
    (sampled, _), t_sampled = timed(lambda: cluster_labels(images, args.k, 0, "spectral", args.sample))
    agree = purity(sampled, exact, args.k)
    print(f"MNIST 60,000, {args.k} spectral clusters: exact graph {t_exact:.1f} s, purity {purity(exact, digits, args.k):.3f}; "
          f"sample {args.sample}: {t_sampled:.1f} s, purity {purity(sampled, digits, args.k):.3f}, "
          f"agreement with the exact clusters {agree:.3f}")
    if args.folder:
        imgs, t_load = timed(lambda: load_folder(args.folder, args.size, "all"))
        (_, _), t_big = timed(lambda: cluster_labels(imgs, args.k, 0, "spectral", args.sample))
        print(f"{args.folder}: {len(imgs)} images at {args.size} px (loaded in {t_load:.1f} s): "
              f"{args.k} spectral clusters with sample {args.sample} in {t_big:.1f} s")


if __name__ == "__main__":
    main()
