"""Exponential moving average of the generator's weights (Karras et al.; StyleGAN2-ADA).

The half-life is given in images: after ``half_life_kimg * 1000`` images the old weights count
half, so beta = 0.5 ** (batch / (half_life_kimg * 1000)) per generator step, whatever the batch.
Sampling and evaluation use the EMA generator when a run has one.
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
