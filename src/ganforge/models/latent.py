"""Latent distributions by name (``model.latent_dist``), with an optional one-hot part
(``model.latent_categories``)."""

from __future__ import annotations

import torch

from ..registry import Registry

LATENTS: Registry = Registry("latent distribution", "model.latent_dist")
LATENTS.register("normal")(lambda n, dim, device, generator: torch.randn(n, dim, generator=generator, device=device))
LATENTS.register("uniform")(  # in [-1, 1]
    lambda n, dim, device, generator: torch.rand(n, dim, generator=generator, device=device).mul_(2.0).sub_(1.0))

# each distribution's CDF, for a latent entry read as a uniform number in [0, 1] (model.clusters)
LATENT_CDFS = {"normal": lambda z: 0.5 * (1.0 + torch.erf(z / 2.0 ** 0.5)),
               "uniform": lambda z: (z + 1.0) / 2.0}


def latent_cdf(z: torch.Tensor, dist: str) -> torch.Tensor:
    """Entries of z, drawn from ``dist``, mapped through its CDF to uniform numbers in [0, 1]."""
    if dist not in LATENT_CDFS:
        from ..errors import GanforgeError

        raise GanforgeError(f"model.latent_dist={dist} has no CDF for model.clusters; use normal or uniform")
    return LATENT_CDFS[dist](z)


def sample_latent(n: int, dim: int, dist: str, device, generator: torch.Generator | None = None,
                  categories: int = 0, category_scale: float = 1.0) -> torch.Tensor:
    """n latent vectors of size ``dim`` from ``dist``; with ``categories`` K > 0 their first K entries are
    replaced by the one-hot code (hot entry ``category_scale``) of a category drawn uniformly from K (the
    continuous draw comes first, so the other entries are the same as without categories)."""
    z = LATENTS.get(dist)(n, dim, device, generator)
    if categories:
        k = torch.randint(0, categories, (n,), generator=generator, device=device)
        z[:, :categories] = torch.nn.functional.one_hot(k, categories).to(z.dtype) * category_scale
    return z


def model_latent(mcfg, n: int, device, generator: torch.Generator | None = None) -> torch.Tensor:
    """n latent vectors as a model config (``cfg.model``) defines them."""
    return sample_latent(n, mcfg.latent_dim, mcfg.latent_dist, device, generator, mcfg.latent_categories,
                         mcfg.latent_category_scale)
