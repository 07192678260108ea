"""Exponential moving average of a network's weights.

Of the generator (Karras et al.; StyleGAN2-ADA, ``train.ema_kimg``): sampling and evaluation use
the EMA generator when a run has one. Of the discriminator (``train.d_ema_kimg``; Salimans et al.'s
semi-supervised MNIST code tests its classifier with such an average, 0.9999 a step of 100 images):
a semi-supervised run's classifier is measured with it.

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
