"""Fully-connected generator and discriminator (Goodfellow et al. 2014 and the classic tutorials)."""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import nn

from .conditioning import OutputHead, conditional_norm, info_categories, label_input, run_layers
from .layers import check_d_batch, Dropout, GaussianNoise, activation, norm_layer, range_output_layer, normalize_weights


def _hidden_layers(in_dim: int, net, make_norm: Callable[[int], nn.Module | None]) -> tuple[list[nn.Module], int]:
    """Linear [+ make_norm(out_dim)] + activation [+ dropout] per size in ``net.hidden``; returns the layers
    and the last layer's output size."""
    layers: list[nn.Module] = []
    for out_dim in net.hidden:
        layers.append(nn.Linear(in_dim, out_dim))
        norm_module = make_norm(out_dim)
        if norm_module is not None:
            layers.append(norm_module)
        layers.append(activation(net.activation, net.negative_slope))
        if net.dropout > 0:
            layers.append(Dropout(net.dropout))
        in_dim = out_dim
    return layers, in_dim


class MLPGenerator(nn.Module):
    """z (B x latent_dim) [+ labels] -> sample (B x *shape), in [-1, 1] with a tanh output.

    ``self.net`` is the layer stack (its name fixes the checkpoint keys ``net.<i>.*``); the net
    config is ``mcfg.g``."""

    def __init__(self, mcfg, info):
        super().__init__()
        net, num_classes = mcfg.g, info.num_classes
        self.latent_dim = mcfg.latent_dim
        self.shape = tuple(info.shape)
        self.cond = label_input(mcfg, num_classes)
        layers, out_dim = _hidden_layers(self.cond.out_dim if self.cond else self.latent_dim, net,
                                         lambda n: conditional_norm(mcfg, n, num_classes, spatial=False))
        layers.append(nn.Linear(out_dim, math.prod(self.shape)))
        out = range_output_layer(net.output, mcfg.data_range)
        if out is not None:
            layers.append(out)
        self.net = nn.Sequential(*layers)
        normalize_weights(self.net, net)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """z (and labels, or class weights for label morphing) -> samples; ``y`` also reaches the
        conditional batch norms, when there are any."""
        h = self.cond(z, y) if self.cond is not None else z
        return run_layers(self.net, h, y, z).view(h.shape[0], *self.shape)


class MLPDiscriminator(nn.Module):
    """sample (B x *shape) -> one raw logit per sample, or per pack of ``pack`` samples (PacGAN);
    with conditioning, see :class:`OutputHead` (``return_classes`` gives AC-GAN's class logits).

    ``self.net`` is the layer stack (its name fixes the checkpoint keys); the net config is ``mcfg.d``."""

    def __init__(self, mcfg, info):
        super().__init__()
        net = mcfg.d
        self.shape = tuple(info.shape)
        self.pack = net.pack
        layers, out_dim = _hidden_layers(math.prod(self.shape) * self.pack, net,
                                         lambda n: norm_layer(net.norm, n, spatial=False))
        if net.noise > 0 or net.input_noise > 0:  # Gaussian noise on the input and after each hidden layer
            noisy: list[nn.Module] = [GaussianNoise(net.input_noise)]
            for layer in layers:
                noisy.append(layer)
                if isinstance(layer, type(activation(net.activation, net.negative_slope))):
                    noisy.append(GaussianNoise(net.noise))
            layers = noisy
        self.net = nn.Sequential(*layers)
        self.head = OutputHead(mcfg.conditioning, info.num_classes, out_dim, info_categories(mcfg), mcfg)
        normalize_weights(self, net)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None, return_classes: bool = False):
        check_d_batch(x, self.shape, self.pack)
        return self.head(self.net(x.reshape(x.shape[0] // self.pack, -1)), y, return_classes)
