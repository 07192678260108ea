"""Learning-rate schedules by name (``optim.schedule``), stepped once per generator step."""

from __future__ import annotations

import torch

from ..registry import Registry

SCHEDULES: Registry = Registry("learning-rate schedule", "optim.schedule")


def linear_decay(total_steps: int, decay_start: float):
    """1 until ``decay_start * total_steps``, then linearly down to 0 at ``total_steps``."""
    start = int(decay_start * total_steps)

    def factor(step: int) -> float:
        if step < start:
            return 1.0
        return max(0.0, 1.0 - (step - start) / max(1, total_steps - start))

    return factor


@SCHEDULES.register("constant")
def constant(ocfg, total_steps: int, optimizers) -> list:
    return []


@SCHEDULES.register("linear")
def linear(ocfg, total_steps: int, optimizers) -> list:
    return [torch.optim.lr_scheduler.LambdaLR(opt, linear_decay(total_steps, ocfg.decay_start)) for opt in optimizers]


def make_schedulers(ocfg, total_steps: int, optimizers) -> list:
    return SCHEDULES.get(ocfg.schedule)(ocfg, total_steps, optimizers)
