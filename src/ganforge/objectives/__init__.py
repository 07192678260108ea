"""Objectives (losses) by name."""

from .losses import LOSSES, Objective, build_objective

__all__ = ["LOSSES", "Objective", "build_objective"]
