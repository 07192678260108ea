"""Shared building blocks: activations, normalization layers, spectral normalization."""

from __future__ import annotations

from torch import nn

from ..errors import GanforgeError


def activation(name: str, negative_slope: float = 0.2) -> nn.Module:
    if name == "relu":
        return nn.ReLU()
    if name == "leaky_relu":
        return nn.LeakyReLU(negative_slope)
    if name == "tanh":
        return nn.Tanh()
    if name == "elu":
        return nn.ELU()
    raise GanforgeError(f"unknown activation '{name}'; use relu, leaky_relu, tanh or elu")


def norm_layer(kind: str, channels: int, spatial: bool) -> nn.Module | None:
    """``batch`` -> BatchNorm1d/2d; ``layer`` -> LayerNorm over features (GroupNorm(1, C) for maps)."""
    if kind == "none":
        return None
    if kind == "batch":
        return nn.BatchNorm2d(channels) if spatial else nn.BatchNorm1d(channels)
    if kind == "layer":
        return nn.GroupNorm(1, channels) if spatial else nn.LayerNorm(channels)
    raise GanforgeError(f"unknown norm '{kind}'; use none, batch or layer")


def apply_spectral_norm(module: nn.Module) -> nn.Module:
    """Spectral normalization (Miyato et al. 2018) on every Linear/Conv weight of ``module``."""
    for name, child in module.named_children():
        if isinstance(child, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            setattr(module, name, nn.utils.parametrizations.spectral_norm(child))
        else:
            apply_spectral_norm(child)
    return module
