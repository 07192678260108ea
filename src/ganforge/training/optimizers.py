"""Optimizers by name (``optim.name``): one registration each."""

from __future__ import annotations

import torch

from ..registry import Registry

OPTIMIZERS: Registry = Registry("optimizer", "optim.name")


@OPTIMIZERS.register("adam")
def adam(params, ocfg, lr: float) -> torch.optim.Optimizer:
    return torch.optim.Adam(params, lr=lr, betas=tuple(ocfg.betas), eps=ocfg.eps, weight_decay=ocfg.weight_decay)


@OPTIMIZERS.register("sgd")
def sgd(params, ocfg, lr: float) -> torch.optim.Optimizer:
    return torch.optim.SGD(params, lr=lr, momentum=ocfg.momentum, weight_decay=ocfg.weight_decay)


def make_optimizer(params, ocfg, lr: float) -> torch.optim.Optimizer:
    return OPTIMIZERS.get(ocfg.name)(params, ocfg, lr)
