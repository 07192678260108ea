"""Generator and discriminator architectures by name (``model.g.arch``, ``model.d.arch``)."""

from __future__ import annotations

import torch
from torch import nn

from ..registry import Registry
from .conditioning import check_conditioning
from .dcgan import DCGANDiscriminator, DCGANGenerator
from .mlp import MLPDiscriminator, MLPGenerator

GENERATORS: Registry = Registry("generator architecture", "model.g.arch")
DISCRIMINATORS: Registry = Registry("discriminator architecture", "model.d.arch")

GENERATORS.register("mlp")(
    lambda mcfg, info: MLPGenerator(mcfg.latent_dim, info.shape, mcfg.g, mcfg, info.num_classes))
DISCRIMINATORS.register("mlp")(
    lambda mcfg, info: MLPDiscriminator(info.shape, mcfg.d, mcfg.conditioning, info.num_classes))
GENERATORS.register("dcgan")(
    lambda mcfg, info: DCGANGenerator(mcfg.latent_dim, info.shape, mcfg.g, mcfg.channels_last, mcfg, info.num_classes))
DISCRIMINATORS.register("dcgan")(
    lambda mcfg, info: DCGANDiscriminator(info.shape, mcfg.d, mcfg.channels_last, mcfg.conditioning, info.num_classes))


def _memory_format(model: nn.Module, mcfg) -> nn.Module:
    return model.to(memory_format=torch.channels_last) if mcfg.channels_last else model


def build_generator(mcfg, info) -> nn.Module:
    check_conditioning(mcfg, info.num_classes)
    return _memory_format(GENERATORS.get(mcfg.g.arch)(mcfg, info), mcfg)


def build_discriminator(mcfg, info) -> nn.Module:
    check_conditioning(mcfg, info.num_classes)
    return _memory_format(DISCRIMINATORS.get(mcfg.d.arch)(mcfg, info), mcfg)


__all__ = ["GENERATORS", "DISCRIMINATORS", "build_generator", "build_discriminator"]
