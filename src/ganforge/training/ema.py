"""Exponential moving average of a network's weights.

Of the generator (Karras et al.; StyleGAN2-ADA, ``train.ema_kimg``): sampling and evaluation use
the EMA generator when a run has one. Of the discriminator (``train.d_ema_kimg``; Salimans et al.'s
semi-supervised MNIST code tests its classifier with such an average, 0.9999 a step of 100 images):
a semi-supervised run's classifier is measured with it.

Batch norm: each update copies the training G's running statistics, which were measured under its weights,
not the average's. :meth:`EMA.standing_stats` recomputes them under the EMA weights (BigGAN's "standing
statistics"; ``train.ema_bn_batches``).

The half-life is given in images: after ``half_life_kimg * 1000`` images the old weights count
half, so beta = 0.5 ** (batch / (half_life_kimg * 1000)) per update, whatever the batch.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    def __init__(self, G: nn.Module, half_life_kimg: float, batch_size: int):
        self.model = copy.deepcopy(G).eval().requires_grad_(False)
        self.beta = 0.5 ** (batch_size / (half_life_kimg * 1000.0))

    @torch.no_grad()
    def update(self, G: nn.Module) -> None:
        for p_ema, p in zip(self.model.parameters(), G.parameters()):
            p_ema.lerp_(p, 1.0 - self.beta)
        for b_ema, b in zip(self.model.buffers(), G.buffers()):
            b_ema.copy_(b)

    @torch.no_grad()
    def standing_stats(self, batch, batches: int) -> bool:
        """Recompute the EMA model's batch-norm running statistics as the plain average over ``batches``
        forward passes of ``batch()`` (a tuple of the model's arguments), in training mode. Returns False
        (nothing done) when the model has no batch norm."""
        norms = [m for m in self.model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        if not norms:
            return False
        momenta = [m.momentum for m in norms]
        for m in norms:
            m.reset_running_stats()
            m.momentum = None  # cumulative average
        was_training = self.model.training
        self.model.train()
        try:
            for _ in range(batches):
                self.model(*batch())
        finally:
            self.model.train(was_training)
            for m, momentum in zip(norms, momenta):
                m.momentum = momentum
        return True
