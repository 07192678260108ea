"""Residual networks (SNGAN, Miyato et al. 2018; BigGAN's blocks) for 28x28 and 32/64 px images,
1 or 3 channels.

Resolutions as in :mod:`.dcgan`: side = base * 2^k, base 7 (28) or 4 (32, 64, ...). Every block
has ``width`` channels (SNGAN's CIFAR networks: 256 in G, 128 in D).

G: z [+ label] -> Linear -> width x base x base -> k up-blocks, each
``norm -> act -> upsample x2 (nearest) -> conv3x3 -> norm -> act -> conv3x3`` plus the shortcut
``upsample -> conv1x1`` -> norm -> act -> conv3x3 to the image channels -> tanh (``output``). The
norms are conditional batch norms with ``model.g_cbn`` (the SNGAN/BigGAN conditional generator).

D: an optimized first block ``conv3x3 -> act -> conv3x3 -> avgpool2`` (shortcut
``avgpool2 -> conv1x1``), down-blocks ``act -> conv3x3 -> act -> conv3x3 -> avgpool2`` (shortcut
``conv1x1 -> avgpool2``) until base x base, one block at base x base without downsampling
(identity shortcut), act, [minibatch std,] global sum pooling, :class:`OutputHead`. ``norm``
(none by default, as in SNGAN; ``layer`` for a WGAN-GP critic) goes before each activation of
the blocks. Spectral norm (``spectral_norm``) on every conv and linear weight; PacGAN packing
stacks ``pack`` samples along the channel axis.

Weights start as in SNGAN: Xavier-uniform with gain sqrt(2) on the residual convs, gain 1 on the
shortcut, first and last layers; zero biases.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .conditioning import OutputHead, apply_layer, conditional_norm, info_categories, label_input
from .layers import pack_images, activation, image_geometry, minibatch_std, norm_layer, range_output_layer, normalize_weights


def _conv(c_in: int, c_out: int, kernel: int, gain: float) -> nn.Conv2d:
    conv = nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2)
    nn.init.xavier_uniform_(conv.weight, gain)
    nn.init.zeros_(conv.bias)
    return conv


class GBlock(nn.Module):
    """Up-block of G: residual ``norm -> act -> up -> conv3x3 -> norm -> act -> conv3x3`` plus
    ``up -> conv1x1``; ``make_norm(channels)`` gives a norm layer (conditional or not) or None."""

    def __init__(self, c_in: int, c_out: int, make_norm, act):
        super().__init__()
        self.norm1, self.conv1 = make_norm(c_in), _conv(c_in, c_out, 3, math.sqrt(2))
        self.norm2, self.conv2 = make_norm(c_out), _conv(c_out, c_out, 3, math.sqrt(2))
        self.shortcut = _conv(c_in, c_out, 1, 1.0)
        self.act = act

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None, z: torch.Tensor | None = None) -> torch.Tensor:
        h = F.interpolate(self.act(apply_layer(self.norm1, x, y, z)), scale_factor=2, mode="nearest")
        h = self.conv2(self.act(apply_layer(self.norm2, self.conv1(h), y, z)))
        return h + self.shortcut(F.interpolate(x, scale_factor=2, mode="nearest"))


class DBlock(nn.Module):
    """Block of D. ``first``: the optimized block (no activation before the first conv; shortcut
    pools, then convolves). Otherwise ``act -> conv3x3 -> act -> conv3x3 [-> avgpool2]``, shortcut
    ``conv1x1 [-> avgpool2]`` (the identity when neither the channels nor the size change)."""

    def __init__(self, c_in: int, c_out: int, act, norm: str, down: bool, first: bool = False):
        super().__init__()
        self.first, self.down, self.act = first, down, act
        self.norm1 = None if first else norm_layer(norm, c_in, spatial=True)
        self.conv1 = _conv(c_in, c_out, 3, math.sqrt(2))
        self.norm2 = norm_layer(norm, c_out, spatial=True)
        self.conv2 = _conv(c_out, c_out, 3, math.sqrt(2))
        self.shortcut = _conv(c_in, c_out, 1, 1.0) if (down or first or c_in != c_out) else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x if self.first else self.act(apply_layer(self.norm1, x, None))
        h = self.conv2(self.act(apply_layer(self.norm2, self.conv1(h), None)))
        if self.down:
            h = F.avg_pool2d(h, 2)
        s = x
        if self.first:
            s = self.shortcut(F.avg_pool2d(s, 2) if self.down else s)
        elif self.shortcut is not None:
            s = self.shortcut(s)
            s = F.avg_pool2d(s, 2) if self.down else s
        return h + s


class ResNetGenerator(nn.Module):
    """z (B x latent_dim) [+ labels] -> images (B x C x H x W); the net config is ``mcfg.g``."""

    def __init__(self, mcfg, info):
        super().__init__()
        net, num_classes = mcfg.g, info.num_classes
        img_channels = info.shape[0]
        self.base, self.k = image_geometry(tuple(info.shape), "resnet")
        self.latent_dim, self.shape = mcfg.latent_dim, tuple(info.shape)
        self.channels_last, self.width = mcfg.channels_last, net.width
        self.cond = label_input(mcfg, num_classes)
        in_dim = self.cond.out_dim if self.cond else self.latent_dim
        self.project = nn.Linear(in_dim, net.width * self.base * self.base)
        nn.init.xavier_uniform_(self.project.weight)
        nn.init.zeros_(self.project.bias)
        act = activation(net.activation, net.negative_slope)

        def make_norm(c):
            return conditional_norm(mcfg, c, num_classes, spatial=True)

        self.blocks = nn.ModuleList(GBlock(net.width, net.width, make_norm, act) for _ in range(self.k))
        self.out_norm, self.act = make_norm(net.width), act
        self.out_conv = _conv(net.width, img_channels, 3, 1.0)
        self.out = range_output_layer(net.output, mcfg.data_range)
        normalize_weights(self, net)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """z (and labels, or class weights for label morphing) -> images; ``y`` also reaches the
        conditional batch norms, when there are any."""
        h = self.cond(z, y) if self.cond is not None else z
        x = self.project(h).view(h.shape[0], self.width, self.base, self.base)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        for block in self.blocks:
            x = block(x, y, z)
        x = self.out_conv(self.act(apply_layer(self.out_norm, x, y, z)))
        return x if self.out is None else self.out(x)


class ResNetDiscriminator(nn.Module):
    """images (B x C x H x W) -> one raw logit per image (per pack of ``pack``), with conditioning
    see :class:`OutputHead`; the net config is ``mcfg.d``."""

    def __init__(self, mcfg, info):
        super().__init__()
        net = mcfg.d
        img_channels = info.shape[0]
        self.base, self.k = image_geometry(tuple(info.shape), "resnet")
        self.shape, self.pack, self.channels_last = tuple(info.shape), net.pack, mcfg.channels_last
        self.act = activation(net.activation, net.negative_slope)
        width = net.width
        blocks = [DBlock(img_channels * net.pack, width, self.act, net.norm, down=True, first=True)]
        blocks += [DBlock(width, width, self.act, net.norm, down=True) for _ in range(self.k - 1)]
        blocks.append(DBlock(width, width, self.act, net.norm, down=False))
        self.blocks = nn.Sequential(*blocks)
        self.mbstd = minibatch_std(net, width)  # None when model.d.mbstd_group = 0
        self.feat_dim = width + (net.mbstd_channels if self.mbstd is not None else 0)
        self.head = OutputHead(mcfg.conditioning, info.num_classes, self.feat_dim, info_categories(mcfg), mcfg)
        normalize_weights(self, net)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Packed, channels-last-converted images -> the head's input (N x feat_dim)."""
        h = self.act(self.blocks(x))
        if self.mbstd is not None:
            h = self.mbstd(h)
        return h.sum(dim=(2, 3))  # global sum pooling (SNGAN)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None, return_classes: bool = False):
        x = pack_images(x, self.shape, self.pack, self.channels_last)
        return self.head(self.features(x), y, return_classes)
