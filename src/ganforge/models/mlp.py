"""Fully-connected generator and discriminator (Goodfellow et al. 2014 and the classic tutorials)."""

from __future__ import annotations

import math

import torch
from torch import nn

from ..errors import GanforgeError
from .conditioning import OutputHead, conditional_norm, label_input, run_layers
from .layers import activation, apply_spectral_norm


def _hidden_layers(in_dim: int, net, mcfg=None, num_classes: int = 0) -> tuple[list[nn.Module], int]:
    layers: list[nn.Module] = []
    for width in net.hidden:
        layers.append(nn.Linear(in_dim, width))
        norm = conditional_norm(mcfg, net, width, num_classes, spatial=False)
        if norm is not None:
            layers.append(norm)
        layers.append(activation(net.activation, net.negative_slope))
        if net.dropout > 0:
            layers.append(nn.Dropout(net.dropout))
        in_dim = width
    return layers, in_dim


class MLPGenerator(nn.Module):
    """z (B x latent_dim) [+ labels] -> sample (B x *shape), in [-1, 1] with a tanh output."""

    def __init__(self, latent_dim: int, shape: tuple[int, ...], net, mcfg=None, num_classes: int = 0):
        super().__init__()
        self.latent_dim = latent_dim
        self.shape = tuple(shape)
        self.cond = label_input(mcfg, num_classes) if mcfg is not None else None
        layers, width = _hidden_layers(self.cond.out_dim if self.cond else latent_dim, net, mcfg, num_classes)
        layers.append(nn.Linear(width, math.prod(self.shape)))
        if net.output == "tanh":
            layers.append(nn.Tanh())
        elif net.output == "sigmoid":  # sigmoid rescaled to the data range [-1, 1]
            layers.append(_ScaledSigmoid())
        self.net = nn.Sequential(*layers)
        if net.spectral_norm:
            apply_spectral_norm(self.net)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """z (and labels, or class weights for label morphing) -> samples; ``y`` also reaches the
        conditional batch norms, when there are any."""
        h = self.cond(z, y) if self.cond is not None else z
        return run_layers(self.net, h, y).view(h.shape[0], *self.shape)


class _ScaledSigmoid(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(x) * 2.0 - 1.0


class MLPDiscriminator(nn.Module):
    """sample (B x *shape) -> one raw logit per sample, or per pack of ``pack`` samples (PacGAN);
    with conditioning, see :class:`OutputHead` (``return_classes`` gives AC-GAN's class logits)."""

    def __init__(self, shape: tuple[int, ...], net, conditioning: str = "none", num_classes: int = 0):
        super().__init__()
        self.shape = tuple(shape)
        self.pack = net.pack
        layers, width = _hidden_layers(math.prod(self.shape) * self.pack, net)
        self.net = nn.Sequential(*layers)
        self.head = OutputHead(conditioning, num_classes, width)
        if net.spectral_norm:
            apply_spectral_norm(self)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None, return_classes: bool = False):
        if x.shape[1:] != self.shape:
            raise GanforgeError(f"discriminator expects samples of shape {self.shape}, got {tuple(x.shape[1:])}")
        if x.shape[0] % self.pack:
            raise GanforgeError(f"batch of {x.shape[0]} is not a multiple of model.d.pack={self.pack}")
        return self.head(self.net(x.reshape(x.shape[0] // self.pack, -1)), y, return_classes)
