"""Discriminator penalties: WGAN-GP's gradient penalty and the R1 penalty (lazy).

- Gradient penalty (Gulrajani et al. 2017): lambda * E[(||grad_x D(x_hat)||_2 - 1)^2] at random
  interpolates x_hat = e x + (1 - e) G(z), e ~ U[0, 1] per sample.
- R1 (Mescheder et al. 2018): gamma / 2 * E[||grad_x D(x)||^2] on real data. Lazy
  regularization (Karras et al. 2020): applied every ``every`` D steps and multiplied by
  ``every`` so the average strength is unchanged.
- Mode seeking (Mao et al. 2019, MSGAN), a generator term: 1 / (mean|G(z1) - G(z2)| / mean|z1 - z2| + 1e-5)
  over the pairs (first half, second half) of a batch whose two halves share their labels.
"""

from __future__ import annotations

import torch


def gradient_penalty(D, real: torch.Tensor, fake: torch.Tensor, part: tuple[int, int] = (0, 1)) -> torch.Tensor:
    """E[(||grad D(x_hat)|| - 1)^2] (without the lambda); uses the global torch RNG for e.
    ``D`` is any callable from samples to logits (a conditional D with its labels bound).
    ``part = (rank, world)``: e is drawn for the global batch and this rank's slice is used."""
    rank, world = part
    n = real.shape[0]
    e = torch.rand(n * world, *([1] * (real.dim() - 1)), device=real.device, dtype=real.dtype)[rank * n:(rank + 1) * n]
    x_hat = (e * real.detach() + (1 - e) * fake.detach()).requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x_hat).sum(), x_hat, create_graph=True)
    return (grad.flatten(1).norm(2, dim=1) - 1.0).pow(2).mean()


def r1_penalty(real_logits: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """E[||grad_x D(x)||^2] (without gamma / 2); ``real`` must have requires_grad=True."""
    (grad,) = torch.autograd.grad(real_logits.sum(), real, create_graph=True)
    return grad.flatten(1).pow(2).sum(1).mean()


def mode_seeking(fake: torch.Tensor, z: torch.Tensor, eps: float = 1e-5, size: int = 0) -> torch.Tensor:
    """MSGAN's term (without its lambda): 1 / (ratio + eps), ratio = mean|x1 - x2| / mean|z1 - z2| for the
    pairs (row i, row h + i) of ``fake`` and ``z``, h = len // 2 (an odd last row is left out). ``size`` > 0:
    images (N, C, H, W) are compared average-pooled to size x size (no change where they are not larger)."""
    h = len(fake) // 2
    if h == 0:
        raise ValueError("mode seeking needs a batch of at least 2 samples")
    fake = fake.float()
    if size and fake.dim() == 4 and max(fake.shape[-2:]) > size:
        fake = torch.nn.functional.adaptive_avg_pool2d(fake, size)
    images = (fake[:h] - fake[h:2 * h]).abs().mean()
    latents = (z[:h].float() - z[h:2 * h].float()).abs().mean()
    return 1.0 / (images / latents + eps)


class Penalties:
    """The penalties a config asks for, added to the discriminator loss."""

    def __init__(self, lcfg):
        self.gp_weight = lcfg.gp_weight
        self.r1_gamma = lcfg.r1_gamma
        self.r1_every = lcfg.r1_every
        self.count = 0  # discriminator steps seen (for lazy R1); saved with the trainer
        self.part = (0, 1)  # (rank, world) of a data-parallel run

    @property
    def active(self) -> bool:
        return self.gp_weight > 0 or self.r1_gamma > 0

    def r1_due(self) -> bool:
        return self.r1_gamma > 0 and self.count % self.r1_every == 0

    def __call__(self, D, real: torch.Tensor, fake: torch.Tensor, real_logits: torch.Tensor) -> torch.Tensor | None:
        """The total penalty for this D step (``real`` has requires_grad when R1 is due)."""
        total = None
        if self.gp_weight > 0:
            total = self.gp_weight * gradient_penalty(D, real, fake, self.part)
        if self.r1_due():
            r1 = 0.5 * self.r1_gamma * self.r1_every * r1_penalty(real_logits, real)
            total = r1 if total is None else total + r1
        self.count += 1
        return total
