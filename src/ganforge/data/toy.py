"""Gaussian mixtures: 2-D ones for mode-collapse studies (as in the PacGAN paper, Lin et al. 2018)
and a 1-D one for the theory figure of Goodfellow et al. 2014.

- ``ring8``: 8 Gaussians evenly spaced on a circle of radius 1, std 0.01.
- ``grid25``: 25 Gaussians at {-4, -2, 0, 2, 4}^2, std 0.05.
- ``moons``: two interleaving half circles (the shape of scikit-learn's ``make_moons``), each 12
  Gaussians of std 0.08 along the arc; the class of a point is its moon (2 classes), which makes
  it a small labelled toy for semi-supervised training (``model.conditioning=semi``).
- ``gauss1d``: one 1-D Gaussian, mean 2, std 0.5 (the data density of the paper's figure 1; the
  generator starts near 0, so the pictures show p_g travelling to p_data).
"""

from __future__ import annotations

import math

import torch

TOY_MIXTURES = {
    "ring8": 0.01,
    "grid25": 0.05,
    "gauss1d": 0.5,
    "moons": 0.08,
}
MOON_MODES = 12  # Gaussians per moon


def mixture_centers(name: str) -> torch.Tensor:
    if name == "ring8":
        angles = torch.arange(8, dtype=torch.float64) * (2 * math.pi / 8)
        return torch.stack([torch.cos(angles), torch.sin(angles)], dim=1).float()
    if name == "grid25":
        axis = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])
        xx, yy = torch.meshgrid(axis, axis, indexing="ij")
        return torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=1)
    if name == "gauss1d":
        return torch.tensor([[2.0]])
    if name == "moons":
        t = torch.linspace(0, math.pi, MOON_MODES, dtype=torch.float64)
        upper = torch.stack([torch.cos(t), torch.sin(t)], dim=1)
        lower = torch.stack([1 - torch.cos(t), 0.5 - torch.sin(t)], dim=1)
        return (torch.cat([upper, lower]) - torch.tensor([0.5, 0.25], dtype=torch.float64)).float()
    raise KeyError(name)


def mixture_classes(name: str) -> torch.Tensor | None:
    """The class of each mode of a labelled mixture (``moons``: its moon), None for the others."""
    if name == "moons":
        return torch.arange(2 * MOON_MODES) // MOON_MODES
    return None


def mixture_std(name: str) -> float:
    return TOY_MIXTURES[name]


def mixture_density(name: str, x) -> "torch.Tensor":
    """The density of mixture ``name`` (equal weights) at points ``x`` (N x D)."""
    x = torch.as_tensor(x, dtype=torch.float64)
    c = mixture_centers(name).double()
    s = mixture_std(name)
    d = c.shape[1]
    sq = ((x[:, None, :] - c[None]) ** 2).sum(-1)
    return (torch.exp(-sq / (2 * s * s)) / (2 * math.pi * s * s) ** (d / 2)).mean(1)
