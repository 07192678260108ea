"""Generator and discriminator architectures by name (``model.g.arch``, ``model.d.arch``).

Adding an architecture: a generator and/or a discriminator class (an ``nn.Module``), registered
under its name in :data:`GENERATORS` / :data:`DISCRIMINATORS` (a class, or a one-line factory of
the same signature). Every one is built the same way, ``REGISTRY.get(arch)(mcfg, info)``:

- ``__init__(self, mcfg, info)``: ``mcfg`` is the model config (:class:`ganforge.config.ModelConfig`),
  ``info`` the data set's :class:`ganforge.data.batches.DataInfo`. The class reads what it needs
  from them: its net config ``net = mcfg.g`` (G) or ``net = mcfg.d`` (D), ``mcfg.latent_dim``,
  ``mcfg.channels_last``, ``mcfg.conditioning``, ``mcfg.g_label`` and ``mcfg.g_cbn`` (G), the sample
  shape ``info.shape`` and ``info.num_classes``. The conditioning pieces are shared, in
  :mod:`.conditioning`: ``label_input`` and ``conditional_norm`` for G, ``OutputHead`` for D.
- G: ``forward(z, y=None)``: z (N x latent_dim) and, when conditional, labels y (class indices (N,)
  or class weights (N x K)) -> samples (N x *info.shape) in the data range [-1, 1].
- D: ``forward(x, y=None, return_classes=False)``: samples -> raw logits (N,) (one per pack of
  ``mcfg.d.pack`` samples); with ``return_classes=True`` a pair (logits, class logits or None).
- ``model.channels_last`` is applied here (``build_*``), after construction.
- Names: ``mcfg`` the model config, ``net`` a NetConfig, ``norm``/``conditioning`` the config's
  values of those names, ``width`` only ``NetConfig.width`` (hidden-layer sizes are ``*_dim``).
  The state dict keys are the checkpoint format: tests/test_model_constructors.py pins them.
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import nn

from ..registry import Registry
from .conditioning import ClusterConditioned, check_conditioning
from .conv import ConvDiscriminator, ConvGenerator
from .dcgan import DCGANDiscriminator, DCGANGenerator
from .layers import init_weights, set_bn_momentum, unit_range_input
from .mlp import MLPDiscriminator, MLPGenerator
from .resnet import ResNetDiscriminator, ResNetGenerator

GENERATORS: Registry = Registry("generator architecture", "model.g.arch")
DISCRIMINATORS: Registry = Registry("discriminator architecture", "model.d.arch")

GENERATORS.register("mlp")(MLPGenerator)
DISCRIMINATORS.register("mlp")(MLPDiscriminator)
GENERATORS.register("dcgan")(DCGANGenerator)
DISCRIMINATORS.register("dcgan")(DCGANDiscriminator)
GENERATORS.register("resnet")(ResNetGenerator)
DISCRIMINATORS.register("resnet")(ResNetDiscriminator)
GENERATORS.register("conv")(ConvGenerator)
DISCRIMINATORS.register("conv")(ConvDiscriminator)


def _memory_format(model: nn.Module, mcfg) -> nn.Module:
    return model.to(memory_format=torch.channels_last) if mcfg.channels_last else model


def _finish(model: nn.Module, net) -> nn.Module:
    """The net config's words that hold for every architecture: weight init and batch-norm momentum."""
    return set_bn_momentum(init_weights(model, net.init), net.bn_momentum)


def _model_info(mcfg, info):
    """The data info the nets are built for: a self-conditioned GAN's classes are its clusters (per-channel
    clusters, ``model.cluster_channels``: their K^C combinations)."""
    if not mcfg.clusters:
        return info
    return replace(info, num_classes=mcfg.clusters ** cluster_factors(mcfg, info))


def cluster_factors(mcfg, info) -> int:
    """How many clusters make a self-conditioned GAN's label: one per channel with ``model.cluster_channels``."""
    return info.shape[0] if mcfg.cluster_channels else 1


def build_generator(mcfg, info) -> nn.Module:
    info = _model_info(mcfg, info)
    check_conditioning(mcfg, info.num_classes)
    G = _memory_format(_finish(GENERATORS.get(mcfg.g.arch)(mcfg, info), mcfg.g), mcfg)
    if not mcfg.clusters:
        return G
    from ..data.clusters import feature_dim

    factors = cluster_factors(mcfg, info)
    shape = (1, *info.shape[1:]) if factors > 1 else info.shape  # per-channel clusters: one channel's centres
    return ClusterConditioned(G, mcfg.clusters, mcfg.latent_dist, feature_dim(shape), factors)


def build_discriminator(mcfg, info) -> nn.Module:
    info = _model_info(mcfg, info)
    check_conditioning(mcfg, info.num_classes)
    D = _memory_format(_finish(DISCRIMINATORS.get(mcfg.d.arch)(mcfg, info), mcfg.d), mcfg)
    if mcfg.data_range == "unit":  # D works on data in [0, 1] (see ModelConfig.data_range)
        D.register_forward_pre_hook(unit_range_input)
    return D


__all__ = ["GENERATORS", "DISCRIMINATORS", "build_generator", "build_discriminator"]
