"""A tiny GAN really learns a toy distribution (a few seconds on a CPU)."""

import torch

from conftest import small_config
from ganforge.build import build_experiment
from ganforge.data.toy import mixture_centers
from ganforge.training.trainer import Trainer


@torch.no_grad()
def mean_distance_to_nearest_mode(G, latent_dim: int, centers: torch.Tensor) -> float:
    g = torch.Generator()
    g.manual_seed(99)
    G.eval()
    x = G(torch.randn(2000, latent_dim, generator=g))
    G.train()
    return torch.cdist(x, centers).min(dim=1).values.mean().item()


def test_tiny_gan_learns_the_ring():
    cfg = small_config(model={"latent_dim": 2, "g": {"hidden": [64, 64]}, "d": {"hidden": [64, 64], "pack": 2}},
                       data={"batch_size": 128}, train={"steps": 2500}, optim={"g_lr": 1e-3, "d_lr": 1e-3})
    exp = build_experiment(cfg)
    centers = mixture_centers("ring8")
    before = mean_distance_to_nearest_mode(exp.G, 2, centers)
    Trainer(exp).run()
    after = mean_distance_to_nearest_mode(exp.G, 2, centers)
    assert after * 5 <= before, (before, after)
