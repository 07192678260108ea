"""The metrics by name (``METRICS``), and which of them fit which data set.

A metric is one registration: what it needs, how many samples it needs at least, and a function
from :class:`MetricInputs` to its numbers. What a data set offers the metrics, its default metrics
and its default sample count are fields of its registration (``ganforge.data``'s ``EvalSpec``).
:func:`validate_metrics` checks names against both, loading no data and no network, so a typo in
``--metrics`` or ``eval.metrics`` fails before any work is done.

Needs (and what provides them):

- ``features``: features of the samples and of the data set's reference split (images, folders);
- ``probs``: class probabilities of the samples (the MNIST-like classifiers; a folder's FID
  Inception-v3 when weights are given, or its own classifier, ``eval.features``);
- ``modes``: countable modes (Stacked MNIST's 1,000 digit triples, the toy mixtures' centres);
- ``classes``: the classifier's classes are the data set's labels (MNIST, Fashion-MNIST; a labelled
  folder with a classifier of the same class names);
- ``labels``: the samples are labelled (a conditional run, or an .npz with ``labels``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..data import DATASETS, EvalSpec
from ..errors import GanforgeError
from ..metrics import (
    class_accuracy,
    class_frequencies,
    fid_from_features,
    inception_score,
    intra_class_fid,
    kernel_inception_distance,
    prdc,
    stacked_mode_stats,
    toy_mode_stats,
)
from ..registry import Registry, did_you_mean


@dataclass
class MetricInputs:
    """What the metrics read; a field is None where the data set or the samples do not give it."""

    data: str
    n: int
    features: np.ndarray | None = None  # the samples' features (N x D)
    probs: np.ndarray | None = None  # the samples' class probabilities (N x K)
    digits: np.ndarray | None = None  # Stacked MNIST: the class of each channel (N x 3)
    points: np.ndarray | None = None  # toy data: the samples (N x 2)
    centers: np.ndarray | None = None  # toy data: the mixture's centres (K x 2)
    std: float = 0.0  # toy data: the std of each mode
    labels: np.ndarray | None = None  # the samples' labels
    real: np.ndarray | None = None  # features of the reference split
    real_labels: np.ndarray | None = None
    train_labels: np.ndarray | None = None  # labels of the training split (class frequencies)
    d_train: np.ndarray | None = None  # a run's D(x) as probabilities: training images,
    d_heldout: np.ndarray | None = None  # held-out real images,
    d_fake: np.ndarray | None = None  # and the generated samples
    kid_subsets: int = 100
    kid_subset_size: int = 1000


@dataclass(frozen=True)
class Metric:
    compute: Callable[[MetricInputs], dict]
    needs: frozenset[str]
    min_samples: int = 1  # of the samples and, for metrics that need features, of the reference split
    title: str = ""  # for messages


METRICS: Registry[Metric] = Registry("metric", "--metrics / eval.metrics")


def register(name: str, needs: set[str], min_samples: int = 1, title: str = ""):
    """Decorator: register ``compute(inputs) -> dict`` as metric ``name``. Results appear in
    registration order."""
    def deco(compute: Callable[[MetricInputs], dict]):
        METRICS.register(name)(Metric(compute, frozenset(needs), min_samples, title or name))
        return compute

    return deco


@register("fid", {"features"}, 2, "FID")
def _fid(x: MetricInputs) -> dict:
    return {"fid": fid_from_features(x.real, x.features)}


@register("kid", {"features"}, 2, "KID")
def _kid(x: MetricInputs) -> dict:
    size = min(x.kid_subset_size, len(x.real), len(x.features))
    mean, std = kernel_inception_distance(x.real, x.features, num_subsets=x.kid_subsets, subset_size=size)
    return {"kid_mean": mean, "kid_std": std}


@register("prdc", {"features"}, 6, "precision/recall/density/coverage (k = 3 and 5)")
def _prdc(x: MetricInputs) -> dict:
    return prdc(x.real, x.features, k_pr=3, k_dc=5)


@register("is", {"probs"}, 1, "the inception score")
def _is(x: MetricInputs) -> dict:
    mean, std = inception_score(x.probs, splits=min(10, len(x.probs)))
    return {"is_mean": mean, "is_std": std}


@register("modes", {"modes"}, 1, "mode counts")
def _modes(x: MetricInputs) -> dict:
    if x.digits is not None:
        stats = stacked_mode_stats(x.digits)
        return {"modes": stats["modes"], "kl": stats["kl"]}
    stats = toy_mode_stats(x.points, x.centers, x.std)
    return {"modes": stats["modes"], "num_modes": len(x.centers),
            "high_quality": stats["high_quality"], "reverse_kl": stats["reverse_kl"]}


@register("accuracy", {"probs", "classes", "labels"}, 1, "class accuracy")
def _accuracy(x: MetricInputs) -> dict:
    return class_accuracy(x.probs, x.labels, num_classes=x.probs.shape[1])


@register("class_freq", {"probs", "classes"}, 1, "class frequencies")
def _class_freq(x: MetricInputs) -> dict:
    return class_frequencies(x.probs, x.train_labels)


@register("age", {"discriminator"}, 1, "AGE and the discriminator's held-out gap")
def _age(x: MetricInputs) -> dict:
    """The faces tutorial's average generated error, (E_x|D(x) - 1|)^2 + (E_z|D(G(z))|)^2 on held-out
    real images, and the gap between D's mean output on training and on held-out real images."""
    real, fake = np.asarray(x.d_heldout, np.float64), np.asarray(x.d_fake, np.float64)
    train = np.asarray(x.d_train, np.float64)
    return {"age": float(np.abs(real - 1).mean() ** 2 + np.abs(fake).mean() ** 2),
            "d_real_train": float(train.mean()), "d_real_heldout": float(real.mean()), "d_fake": float(fake.mean()),
            "d_gap": float(train.mean() - real.mean())}


@register("intra_fid", {"features", "classes", "labels"}, 2, "intra-class FID")
def _intra_fid(x: MetricInputs) -> dict:
    labels = np.asarray(x.labels)
    for c in np.unique(x.real_labels):
        if (labels == c).sum() < 2:
            raise GanforgeError(f"intra-class FID needs at least 2 samples of every class; class {c} has "
                                f"{(labels == c).sum()}")
    return intra_class_fid(x.real, x.real_labels, x.features, labels)


# ------------------------------------------------------------------------ data sets' defaults
def eval_spec(data: str) -> EvalSpec:
    """The evaluation fields of data set ``data``'s registration."""
    if data not in DATASETS:
        raise GanforgeError(f"no evaluation for data set '{data}'{did_you_mean(data, DATASETS.names())}; "
                            f"choose one of: {', '.join(DATASETS.names())}")
    return DATASETS.get(data).eval


def default_metrics(data: str, conditional: bool = False, offers: set[str] | None = None) -> list[str]:
    """The metrics ``ganforge eval`` computes for ``data`` when none are named: those of its registration
    that ``offers`` (default: what the data set offers by itself) can compute; a folder's class accuracy
    needs its own classifier."""
    spec = eval_spec(data)
    offers = _offers(spec, None) if offers is None else offers
    names = list(spec.metrics) + (list(spec.labelled_metrics) if conditional else [])
    return [m for m in names if METRICS.get(m).needs - {"labels"} <= offers]


def default_n(data: str) -> int:
    """Samples evaluated when ``--n`` is not given (10,000; 26,000 for Stacked MNIST; 2,500 for toy data)."""
    return eval_spec(data).n


# ------------------------------------------------------------------------ checking names
def check_feature_choice(data: str, features: str | None, inception_weights: str | None) -> None:
    """A folder classifier (``eval.features`` / ``--features``) is for image folders, and chooses the
    features alone. Reads no file."""
    if not features:
        return
    if eval_spec(data).kind != "folder":
        raise GanforgeError(f"eval.features / --features (a folder's own classifier) is for image-folder runs; "
                            f"{data} is scored with its own features: leave it unset")
    if inception_weights:
        raise GanforgeError("eval.features / --features and eval.inception_weights / --inception-weights both choose "
                            "a folder's features; keep one")


def _folder_classes(features: str, dcfg) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(the classifier's class names, the run's) of a folder classifier file (its card) and a folder config."""
    from ..data import folder_class_names
    from ..features.folder_classifier import read_card

    return tuple(read_card(features)["class_names"]), (folder_class_names(dcfg) if dcfg is not None else ())


def _offers(spec: EvalSpec, inception_weights: str | None, features: str | None = None, dcfg=None) -> set[str]:
    offers = set(spec.provides)
    if spec.kind == "folder" and features:
        offers.add("probs")  # the folder's classifier classifies
        mine, run = _folder_classes(features, dcfg)
        if run and mine == run:
            offers.add("classes")
    elif spec.kind == "folder" and inception_weights:
        offers.add("probs")  # the FID Inception-v3 classifies too
    return offers


def _why_no_classes(data: str, spec: EvalSpec, features: str | None, dcfg) -> str:
    """Why a folder offers no classifier of its labels ("" for other data sets: :func:`_misfit` says it)."""
    if spec.kind != "folder":
        return ""
    if not features:
        return ("it needs a classifier of the folder's classes: train one with ganforge train-classifier --data folder "
                "--data-path DIR and pass --features FILE (or set eval.features)")
    mine, run = _folder_classes(features, dcfg)
    if not run:
        return "it needs labelled samples of a labelled folder (data.labels), and this folder has no labels"
    return (f"the classifier {features} knows the classes {', '.join(mine)}, not this run's {', '.join(run)}; "
            "train one on this run's folder and labels")


def _misfit(name: str, data: str, spec: EvalSpec, missing: set[str], offers: set[str], why_classes: str = "") -> str:
    if why_classes:
        why = why_classes
    elif "features" in missing:
        why = f"it compares image features, and {data} samples are 2-D points"
    elif "probs" in missing:
        why = f"it needs class probabilities, which the features of {data} do not give"
        if spec.kind == "folder":
            why += (" (image folders get them from the FID Inception-v3: pass --inception-weights FILE or set "
                    "eval.inception_weights; or from their own classifier: --features FILE)")
        elif spec.per_channel:
            why += " (its classifier reads one channel at a time)"
    elif "modes" in missing:
        why = f"it counts modes, and {data} has no known modes"
    else:
        why = f"it needs a classifier whose classes are the labels of {data}"
    fits = [m for m, metric in METRICS.items() if metric.needs - {"labels"} <= offers]
    listed = ", ".join(f"'{m}'" for m in fits)
    return (f"metric '{name}' does not fit {data}: {why}; {data} supports only the {listed} "
            f"metric{'s' if len(fits) > 1 else ''}")


def validate_metrics(names, data: str, *, labelled: bool, inception_weights: str | None = None,
                     discriminator: bool = False, features: str | None = None, dcfg=None) -> list[str]:
    """``names`` checked against the registry and against what ``data`` offers; returned without
    duplicates. One-line :class:`GanforgeError` for an unknown name (with a did-you-mean), a metric
    that does not fit the data set, or one that needs labelled samples when ``labelled`` is false.
    ``features``: a folder's classifier file (its card is read; ``dcfg``, the folder's config, gives
    the run's classes). Loads no data and no network."""
    names = [str(m) for m in names]
    for m in names:
        if m not in METRICS:
            raise GanforgeError(f"unknown metric '{m}'{did_you_mean(m, METRICS.names())}; "
                                f"choose from {', '.join(m for m, _ in METRICS.items())}")
    spec = eval_spec(data)
    check_feature_choice(data, features, inception_weights)
    offers = _offers(spec, inception_weights, features, dcfg)
    if discriminator and spec.kind in ("image", "folder"):
        offers.add("discriminator")
    for m in names:
        missing = METRICS.get(m).needs - offers
        if "discriminator" in missing:
            raise GanforgeError(f"metric '{m}' reads a run's discriminator on held-out real images: evaluate a "
                                f"run directory of image data" + ("" if spec.kind != "points" else
                                                                  f" ({data} has no held-out images)"))
        if missing - {"labels"}:
            why = _why_no_classes(data, spec, features, dcfg) if "classes" in missing else ""
            raise GanforgeError(_misfit(m, data, spec, missing, offers, why))
        if missing and not labelled:
            raise GanforgeError(f"metric '{m}' needs labelled samples (a conditional run, or an .npz with 'labels')")
    return list(dict.fromkeys(names))


def parse_metrics(text: str | None, data: str, labelled: bool = False, *, conditional: bool | None = None,
                  inception_weights: str | None = None, discriminator: bool = False, features: str | None = None,
                  dcfg=None) -> list[str]:
    """Metric names from a comma-separated ``text`` (the data set's defaults that fit when it is empty),
    checked by :func:`validate_metrics`. ``conditional`` (default: ``labelled``) adds the class
    metrics to the defaults; a real baseline is labelled but not conditional."""
    if text is None or not text.strip():
        check_feature_choice(data, features, inception_weights)
        names = default_metrics(data, labelled if conditional is None else conditional,
                                _offers(eval_spec(data), inception_weights, features, dcfg))
    else:
        names = [m.strip() for m in text.split(",") if m.strip()]
        if not names:
            raise GanforgeError(f"--metrics '{text}' names no metric; choose from {', '.join(m for m, _ in METRICS.items())}")
    return validate_metrics(names, data, labelled=labelled, inception_weights=inception_weights,
                            discriminator=discriminator, features=features, dcfg=dcfg)


def check_counts(names, n: int, what: str = "samples", hint: str = "evaluate more samples (--n)") -> None:
    """One line when ``n`` samples are fewer than a metric in ``names`` needs."""
    for m in names:
        metric = METRICS.get(m)
        if n < metric.min_samples:
            raise GanforgeError(f"{metric.title} ('{m}') needs at least {metric.min_samples} {what}, got {n}; "
                                f"{hint} or drop '{m}'")


def compute_metrics(names, inputs: MetricInputs) -> dict:
    """The numbers of every metric in ``names``, in registration order; a computation that fails
    on these inputs is a one-line error. (A non-finite number can be a true result, e.g. the reverse
    KL of toy samples none of which is near a mode, and is returned as it is.)"""
    out: dict = {}
    for name, metric in METRICS.items():
        if name not in names:
            continue
        try:
            result = metric.compute(inputs)
        except ValueError as exc:  # the pure metrics reject inputs with ValueError
            raise GanforgeError(f"{metric.title} ('{name}') cannot be computed on these samples: "
                                f"{' '.join(str(exc).split())}") from None
        out.update(result)
    return out
