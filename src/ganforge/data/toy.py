"""2-D Gaussian mixtures for mode-collapse studies (as in the PacGAN paper, Lin et al. 2018).

- ``ring8``: 8 Gaussians evenly spaced on a circle of radius 1, std 0.01.
- ``grid25``: 25 Gaussians at {-4, -2, 0, 2, 4}^2, std 0.05.
"""

from __future__ import annotations

import math

import torch

TOY_MIXTURES = {
    "ring8": 0.01,
    "grid25": 0.05,
}


def mixture_centers(name: str) -> torch.Tensor:
    if name == "ring8":
        angles = torch.arange(8, dtype=torch.float64) * (2 * math.pi / 8)
        return torch.stack([torch.cos(angles), torch.sin(angles)], dim=1).float()
    if name == "grid25":
        axis = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])
        xx, yy = torch.meshgrid(axis, axis, indexing="ij")
        return torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=1)
    raise KeyError(name)


def mixture_std(name: str) -> float:
    return TOY_MIXTURES[name]
