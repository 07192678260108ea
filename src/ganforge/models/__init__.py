"""Generator and discriminator architectures by name (``model.g.arch``, ``model.d.arch``)."""

from __future__ import annotations

from torch import nn

from ..registry import Registry
from .mlp import MLPDiscriminator, MLPGenerator

GENERATORS: Registry = Registry("generator architecture", "model.g.arch")
DISCRIMINATORS: Registry = Registry("discriminator architecture", "model.d.arch")

GENERATORS.register("mlp")(lambda mcfg, info: MLPGenerator(mcfg.latent_dim, info.shape, mcfg.g))
DISCRIMINATORS.register("mlp")(lambda mcfg, info: MLPDiscriminator(info.shape, mcfg.d))


def build_generator(mcfg, info) -> nn.Module:
    return GENERATORS.get(mcfg.g.arch)(mcfg, info)


def build_discriminator(mcfg, info) -> nn.Module:
    return DISCRIMINATORS.get(mcfg.d.arch)(mcfg, info)


__all__ = ["GENERATORS", "DISCRIMINATORS", "build_generator", "build_discriminator"]
