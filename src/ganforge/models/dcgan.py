"""DCGAN (Radford et al. 2016): transposed convolutions with batch norm in G, strided
convolutions with LeakyReLU in D, for 28x28 (MNIST-like) and 32/64 px images, 1 or 3 channels.

Resolutions: the image side must be ``base * 2^k`` with base 7 (28 = 7 * 4) or 4 (32, 64, ...).
G: z -> Linear -> (width * 2^(k-1)) x base x base -> k transposed convs (4x4, stride 2), each
doubling the resolution and halving the channels, the last one to the image channels + tanh.
D: the mirror: k strided convs (4x4, stride 2) from ``width`` channels doubling (presets use
LeakyReLU 0.2), norm on all but the first (DCGAN), [minibatch std, ``model.d.mbstd_group``,] then
Linear -> one raw logit. PacGAN packing stacks ``pack`` samples along the channel axis.
"""

from __future__ import annotations

import torch
from torch import nn

from .conditioning import OutputHead, conditional_norm, info_categories, label_input, run_layers
from .layers import pack_images, Dropout, activation, flatten_features, image_geometry, minibatch_std, norm_layer, range_output_layer, normalize_weights


def _seq(*layers) -> nn.Sequential:
    return nn.Sequential(*[layer for layer in layers if layer is not None])


class DCGANGenerator(nn.Module):
    """z (B x latent_dim) [+ labels] -> images (B x C x H x W); the net config is ``mcfg.g``."""

    def __init__(self, mcfg, info):
        super().__init__()
        net, num_classes = mcfg.g, info.num_classes
        img_channels = info.shape[0]
        self.base, self.k = image_geometry(tuple(info.shape), "dcgan")
        self.latent_dim, self.shape = mcfg.latent_dim, tuple(info.shape)
        self.channels_last = mcfg.channels_last
        c = net.width * 2 ** (self.k - 1)
        self.c0 = c
        self.cond = label_input(mcfg, num_classes)
        in_dim = self.cond.out_dim if self.cond else self.latent_dim
        self.project = _seq(nn.Linear(in_dim, c * self.base * self.base, bias=net.norm == "none"))
        self.project_norm = _seq(conditional_norm(mcfg, c, num_classes, spatial=True),
                                 activation(net.activation, net.negative_slope))
        blocks = []
        for i in range(self.k):
            last = i == self.k - 1
            c_out = img_channels if last else c // 2
            conv = nn.ConvTranspose2d(c, c_out, 4, stride=2, padding=1, bias=last or net.norm == "none")
            if last:
                blocks.append(_seq(conv, range_output_layer(net.output, mcfg.data_range)))
            else:
                blocks.append(_seq(conv, conditional_norm(mcfg, c_out, num_classes, spatial=True),
                                   activation(net.activation, net.negative_slope)))
            c = c_out
        self.blocks = nn.Sequential(*blocks)
        normalize_weights(self, net)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """z (and labels, or class weights for label morphing) -> images; ``y`` also reaches the
        conditional batch norms, when there are any."""
        h = self.cond(z, y) if self.cond is not None else z
        x = self.project(h).view(h.shape[0], self.c0, self.base, self.base)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        x = run_layers(self.project_norm, x, y, z)
        for block in self.blocks:
            x = run_layers(block, x, y, z)
        return x


class DCGANDiscriminator(nn.Module):
    """images (B x C x H x W) -> one raw logit per image (per pack of ``pack``), with conditioning
    see :class:`OutputHead`; the net config is ``mcfg.d``."""

    def __init__(self, mcfg, info):
        super().__init__()
        net = mcfg.d
        img_channels = info.shape[0]
        self.base, self.k = image_geometry(tuple(info.shape), "dcgan")
        self.shape, self.pack, self.channels_last = tuple(info.shape), net.pack, mcfg.channels_last
        layers = []
        c_in, c = img_channels * net.pack, net.width
        for i in range(self.k):
            layers += [nn.Conv2d(c_in, c, 4, stride=2, padding=1),
                       None if i == 0 else norm_layer(net.norm, c, spatial=True),
                       activation(net.activation, net.negative_slope)]
            if net.dropout > 0:
                layers.append(Dropout(net.dropout))
            c_in, c = c, c * 2
        self.features = _seq(*layers)
        self.mbstd = minibatch_std(net, c_in)  # None when model.d.mbstd_group = 0
        c_head = c_in + (net.mbstd_channels if self.mbstd is not None else 0)
        self.head = OutputHead(mcfg.conditioning, info.num_classes, c_head * self.base * self.base, info_categories(mcfg), mcfg)
        normalize_weights(self, net)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None, return_classes: bool = False):
        x = pack_images(x, self.shape, self.pack, self.channels_last)
        h = self.features(x)
        if self.mbstd is not None:
            h = self.mbstd(h)
        return self.head(flatten_features(h), y, return_classes)
