"""Stacked MNIST (Metz et al. 2017; VEEGAN, PacGAN): 3-channel 28x28 images whose channels are
three independent random MNIST digits, so the data has 10^3 = 1,000 modes.

The set is fixed by ``DATA_SEED`` (not the training seed), so every run and every evaluation
sees the same images. Labels are mode ids 100 * d0 + 10 * d1 + d2.
"""

from __future__ import annotations

import torch

from .clusters import combine_factors
from .mnist import load_idx_set

DATA_SEED = 2017
DEFAULT_SIZE = {"train": 60_000, "test": 10_000}


def stacked_mnist(split: str = "train", num_samples: int = 0, root=None, download: bool = True
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """(images N x 3 x 28 x 28 uint8, mode ids N int64) built from MNIST's ``split``."""
    digits, labels = load_idx_set("mnist", split, root, download)
    n = num_samples or DEFAULT_SIZE[split]
    gen = torch.Generator()
    gen.manual_seed(DATA_SEED + (split == "test"))
    idx = torch.randint(len(digits), (n, 3), generator=gen)
    images = digits[idx].squeeze(2)  # N x 3 x 28 x 28
    lab = labels[idx]
    return images.contiguous(), combine_factors(lab, 10)  # 100 * d0 + 10 * d1 + d2
