"""Optimizers by name (``optim.name``): one registration each."""

from __future__ import annotations

import torch

from ..registry import Registry

OPTIMIZERS: Registry = Registry("optimizer", "optim.name")


@OPTIMIZERS.register("adam")
def adam(params, ocfg, lr: float, betas=None) -> torch.optim.Optimizer:
    """Adam; ``optim.fused`` (default) takes PyTorch's fused kernel where the weights' device has one
    (1.18x faster ring8 steps on a 2-core CPU, where a step is many small tensors), else the loop."""
    params = list(params)
    kwargs = dict(lr=lr, betas=tuple(betas or ocfg.betas), eps=ocfg.eps, weight_decay=ocfg.weight_decay)
    fusable = all(p.device.type in ("cpu", "cuda") and p.is_floating_point() for p in params)
    return torch.optim.Adam(params, fused=bool(ocfg.fused and params and fusable), **kwargs)


@OPTIMIZERS.register("sgd")
def sgd(params, ocfg, lr: float, betas=None) -> torch.optim.Optimizer:
    return torch.optim.SGD(params, lr=lr, momentum=ocfg.momentum, weight_decay=ocfg.weight_decay)


def make_optimizer(params, ocfg, lr: float, betas=None) -> torch.optim.Optimizer:
    """The optimizer ``optim.name`` over ``params``; ``betas`` (Adam's, e.g. ``optim.g_betas``) replace
    ``optim.betas`` when given."""
    factory = OPTIMIZERS.get(ocfg.name)
    return factory(params, ocfg, lr, betas=betas) if betas else factory(params, ocfg, lr)
