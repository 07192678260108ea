"""Where a Stacked MNIST run's mode KL comes from: each channel's digit frequencies, or how the
three channels go together.

    GANFORGE_DATA=../shared/data .venv/bin/python benchmarks/stacked_kl_parts.py RUN_DIR [--n 26000]

Draws n samples from the run's generator (the EMA weights when it kept them) and classifies each
channel with the shipped MNIST classifier, through `ganforge eval`'s own pieces (samples_from_run,
ImageProfile, stacked_mode_stats), and prints:
- KL(modes || uniform over 1000), the number `ganforge eval` reports;
- each channel's digit frequencies and their KL to uniform over 10;
- KL(product of the three channel frequencies || uniform): the part due to unbalanced digits alone;
- KL(modes || product of the channel frequencies): the part due to the channels' dependence, plus
  sampling noise, whose size the last line shows (a draw of n from the uniform, scored the same way).
"""

from __future__ import annotations

import argparse

import numpy as np


def kl(p: np.ndarray, q: np.ndarray) -> float:
    m = p > 0
    return float((p[m] * np.log(p[m] / q[m])).sum())


def main() -> None:
    from ganforge.evaluation.images import ImageProfile
    from ganforge.evaluation.run import samples_from_run
    from ganforge.metrics.modes import stacked_mode_stats

    ap = argparse.ArgumentParser()
    ap.add_argument("run_dir")
    ap.add_argument("--n", type=int, default=26000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    samples, cfg, _ = samples_from_run(args.run_dir, args.n, args.seed)
    if cfg.data.name != "stacked_mnist":
        raise SystemExit(f"{args.run_dir} is a {cfg.data.name} run; this script is for stacked_mnist")
    digits = ImageProfile("stacked_mnist")(samples["images"])["digits"]
    stats = stacked_mode_stats(digits)
    modes = np.asarray(stats["counts"]) / args.n
    uniform = np.full(1000, 1e-3)
    print(f"modes {stats['modes']}/1000, KL(modes || uniform) {stats['kl']:.4f}")
    marginals = [np.bincount(digits[:, c], minlength=10) / args.n for c in range(3)]
    for c, m in enumerate(marginals):
        print(f"channel {c}: KL {kl(m, np.full(10, 0.1)):.4f}, digit frequencies (%) {np.round(m * 100, 1).tolist()}")
    product = np.einsum("i,j,k->ijk", *marginals).reshape(-1)
    print(f"KL(product of the channels' frequencies || uniform) {kl(product, uniform):.4f}"
          f"   KL(modes || product) {kl(modes, product):.4f}")
    draw = np.random.default_rng(args.seed).multinomial(args.n, np.full(1000, 1e-3)) / args.n
    print(f"sampling noise: a draw of {args.n} from the uniform itself scores KL {kl(draw, uniform):.4f}")


if __name__ == "__main__":
    main()
