"""Objectives: adversarial losses by name, penalties, and the D/G step arithmetic (:class:`GANLoss`)."""

from .gan_loss import D_STATS, GANLoss, build_loss
from .losses import LOSSES, Objective, build_objective

__all__ = ["LOSSES", "Objective", "build_objective", "GANLoss", "D_STATS", "build_loss"]
