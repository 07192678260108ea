"""Shared building blocks: activations, normalization layers, spectral normalization."""

from __future__ import annotations

from torch import nn

from ..errors import GanforgeError
from ..registry import Registry


ACTIVATIONS: Registry = Registry("activation", "model.g.activation / model.d.activation")
ACTIVATIONS.register("relu")(lambda negative_slope: nn.ReLU())
ACTIVATIONS.register("leaky_relu")(lambda negative_slope: nn.LeakyReLU(negative_slope))
ACTIVATIONS.register("tanh")(lambda negative_slope: nn.Tanh())
ACTIVATIONS.register("elu")(lambda negative_slope: nn.ELU())

NORMS = ("none", "batch", "layer")  # see norm_layer
OUTPUTS = ("tanh", "sigmoid", "none")  # G's last layer; sigmoid is rescaled to [-1, 1]


def activation(name: str, negative_slope: float = 0.2) -> nn.Module:
    return ACTIVATIONS.get(name)(negative_slope)


def norm_layer(norm: str, channels: int, spatial: bool) -> nn.Module | None:
    """``norm`` (a NetConfig.norm): ``batch`` -> BatchNorm1d/2d; ``layer`` -> LayerNorm over features
    (GroupNorm(1, C) for maps); ``none`` -> None. ``spatial``: the input is a (N, C, H, W) map."""
    if norm == "none":
        return None
    if norm == "batch":
        return nn.BatchNorm2d(channels) if spatial else nn.BatchNorm1d(channels)
    if norm == "layer":
        return nn.GroupNorm(1, channels) if spatial else nn.LayerNorm(channels)
    raise GanforgeError(f"unknown norm '{norm}'; use none, batch or layer")


def apply_spectral_norm(module: nn.Module) -> nn.Module:
    """Spectral normalization (Miyato et al. 2018) on every Linear/Conv weight of ``module``."""
    for name, child in module.named_children():
        if isinstance(child, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            setattr(module, name, nn.utils.parametrizations.spectral_norm(child))
        else:
            apply_spectral_norm(child)
    return module
