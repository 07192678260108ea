"""Fully-connected generator and discriminator (Goodfellow et al. 2014 and the classic tutorials)."""

from __future__ import annotations

import math

import torch
from torch import nn

from ..errors import GanforgeError
from .layers import activation, apply_spectral_norm, norm_layer


def _hidden_layers(in_dim: int, net) -> tuple[list[nn.Module], int]:
    layers: list[nn.Module] = []
    for width in net.hidden:
        layers.append(nn.Linear(in_dim, width))
        norm = norm_layer(net.norm, width, spatial=False)
        if norm is not None:
            layers.append(norm)
        layers.append(activation(net.activation, net.negative_slope))
        if net.dropout > 0:
            layers.append(nn.Dropout(net.dropout))
        in_dim = width
    return layers, in_dim


class MLPGenerator(nn.Module):
    """z (B x latent_dim) -> sample (B x *shape), in [-1, 1] with a tanh output."""

    def __init__(self, latent_dim: int, shape: tuple[int, ...], net):
        super().__init__()
        self.latent_dim = latent_dim
        self.shape = tuple(shape)
        layers, width = _hidden_layers(latent_dim, net)
        layers.append(nn.Linear(width, math.prod(self.shape)))
        if net.output == "tanh":
            layers.append(nn.Tanh())
        elif net.output == "sigmoid":  # sigmoid rescaled to the data range [-1, 1]
            layers.append(_ScaledSigmoid())
        self.net = nn.Sequential(*layers)
        if net.spectral_norm:
            apply_spectral_norm(self.net)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(z.shape[0], *self.shape)


class _ScaledSigmoid(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(x) * 2.0 - 1.0


class MLPDiscriminator(nn.Module):
    """sample (B x *shape) -> one raw logit per sample, or per pack of ``pack`` samples (PacGAN)."""

    def __init__(self, shape: tuple[int, ...], net):
        super().__init__()
        self.shape = tuple(shape)
        self.pack = net.pack
        layers, width = _hidden_layers(math.prod(self.shape) * self.pack, net)
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)
        if net.spectral_norm:
            apply_spectral_norm(self.net)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1:] != self.shape:
            raise GanforgeError(f"discriminator expects samples of shape {self.shape}, got {tuple(x.shape[1:])}")
        if x.shape[0] % self.pack:
            raise GanforgeError(f"batch of {x.shape[0]} is not a multiple of model.d.pack={self.pack}")
        return self.net(x.reshape(x.shape[0] // self.pack, -1)).squeeze(1)
