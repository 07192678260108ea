"""``train.compile``: the training passes' G and D through ``torch.compile`` in one of its modes.

The trainer calls the compiled wrappers (``Experiment.G_train``, ``Experiment.D_train``) for the
training passes; ``Experiment.G`` and ``Experiment.D`` stay the plain modules, so checkpoints keep
their keys, EMA copies plain weights, and sampling and evaluation run eagerly. The wrappers share
the modules' parameters (freezing D for the G step freezes the compiled D too). Not with the
gradient penalty or R1: their double backward is not supported under compile (``validate`` says so).
"""

from __future__ import annotations

import torch
from torch import nn

COMPILE_MODES = ("none", "default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


def compiled(module: nn.Module, mode: str) -> nn.Module:
    """``module`` itself for ``mode="none"``, else ``torch.compile(module, mode=mode)``."""
    return module if mode == "none" else torch.compile(module, mode=mode)
