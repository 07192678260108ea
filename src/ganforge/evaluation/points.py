"""Metrics of 2-D points from a toy mixture: mode coverage as in PacGAN's table 1 (modes covered,
fraction of high-quality samples within 3 std of the nearest centre, reverse KL of their modes)."""

from __future__ import annotations

import numpy as np

from ..data import DATASETS
from .catalog import MetricInputs, compute_metrics, validate_metrics


def evaluate_points(points, data: str, metrics: list[str]) -> dict:
    """Metrics of ``points`` (N x 2) of the toy mixture ``data``; the mixture's centres and std
    come from the data set's registration."""
    names = validate_metrics(metrics, data, labelled=False)
    info = DATASETS.get(data).info(None)  # a toy mixture's info needs no config
    pts = np.asarray(points)
    inputs = MetricInputs(data, len(pts), points=pts, centers=np.asarray(info.centers), std=info.std)
    return compute_metrics(names, inputs)
