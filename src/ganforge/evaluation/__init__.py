"""Evaluation of samples against a data set's real images: the engine behind ``ganforge eval`` and
periodic evaluation during training.

- :mod:`.catalog`: the metrics by name (``METRICS``: what each needs, its minimum sample count, its
  computation), each data set's defaults, and :func:`validate_metrics` (no data, no network loaded);
- :mod:`.samples`: checking a samples dict (images / points / labels) and :func:`evaluate_samples`;
- :mod:`.images`: featurising images with the data set's extractor (:mod:`ganforge.features`);
- :mod:`.points`: toy mixtures' mode coverage;
- :mod:`.reference`: the reference split (the test split, or a folder's held-out split) and the
  cache of its features;
- :mod:`.sources`: samples from an .npz or from real data (the baseline), a result as text;
- :mod:`.run`: ``ganforge eval`` itself: a run directory, a zoo entry, a samples .npz, or a real-data
  baseline. It loads runs, so it sits a floor above the rest of this package (above the trainer,
  which calls this package for periodic evaluation) and is not imported here: ``from
  ganforge.evaluation.run import run_eval``.

The arithmetic of each metric lives in :mod:`ganforge.metrics` (pure functions of arrays).

Metric names: ``fid``, ``kid``, ``is``, ``prdc``, ``modes``, ``accuracy`` (class accuracy of
labelled samples by the data set's classifier, overall and per class) and ``intra_fid`` (mean over
classes of the FID between the samples of a class and the test images of that class).
"""

from .catalog import (
    METRICS,
    Metric,
    MetricInputs,
    default_metrics,
    default_n,
    parse_metrics,
    register,
    validate_metrics,
)
from .images import ImageProfile, evaluate_images
from .points import evaluate_points
from .reference import cache_dir, load_reference_images, reference_features
from .samples import as_samples, check_samples, evaluate_samples
from .sources import format_result, real_baseline, samples_from_npz

__all__ = [
    "format_result",
    "evaluate_samples",
    "real_baseline",
    "parse_metrics",
    "validate_metrics",
    "default_metrics",
    "default_n",
    "METRICS",
    "Metric",
    "MetricInputs",
    "register",
    "evaluate_images",
    "evaluate_points",
    "ImageProfile",
    "check_samples",
    "as_samples",
    "samples_from_npz",
    "cache_dir",
    "load_reference_images",
    "reference_features",
]
