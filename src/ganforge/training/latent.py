"""Latent distributions by name (``model.latent_dist``)."""

from __future__ import annotations

import torch

from ..registry import Registry

LATENTS: Registry = Registry("latent distribution", "model.latent_dist")
LATENTS.register("normal")(lambda n, dim, device, generator: torch.randn(n, dim, generator=generator, device=device))
LATENTS.register("uniform")(  # in [-1, 1]
    lambda n, dim, device, generator: torch.rand(n, dim, generator=generator, device=device).mul_(2.0).sub_(1.0))


def sample_latent(n: int, dim: int, dist: str, device, generator: torch.Generator | None = None) -> torch.Tensor:
    return LATENTS.get(dist)(n, dim, device, generator)
