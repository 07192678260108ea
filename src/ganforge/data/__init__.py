"""Data sets by name: ``build_data(cfg.data, seed, device)`` returns a batch source.

Each registry entry knows the shape of its samples (``info``) without loading anything, so
that sampling from a trained generator never touches the data, and how evaluation treats it
(``eval``: default metrics and sample count, its features, what its metrics can use), so that a
new data set is one registration.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from ..errors import GanforgeError
from ..registry import Registry
from .batches import DataInfo, InMemoryBatches, SemiSupervisedBatches, ToyBatches
from .mnist import IDX_SETS, load_idx_set
from .stacked import stacked_mnist
from .toy import TOY_MIXTURES, mixture_centers, mixture_classes, mixture_std


@dataclass(frozen=True)
class EvalSpec:
    """How evaluation treats a data set (read by :mod:`ganforge.evaluation`; nothing here loads data)."""

    kind: str = "image"  # image: a named set with a test split | points: a toy mixture | folder: an image folder
    metrics: tuple[str, ...] = ("fid", "kid", "prdc")  # default metrics of `ganforge eval`
    labelled_metrics: tuple[str, ...] = ()  # added to the defaults for a conditional generator's samples
    n: int = 10_000  # default number of samples to evaluate
    extractor: str = ""  # features (ganforge.features.EXTRACTORS); "" for a folder: inception with weights, else pixels
    per_channel: bool = False  # the extractor reads one channel at a time (Stacked MNIST: three digits)
    # what the samples give the metrics: "features" (compared with a reference split), "probs" (class
    # probabilities; a folder gains them with Inception weights), "modes" (countable modes), "classes"
    # (the classifier's classes are the data set's labels)
    provides: frozenset[str] = frozenset({"features"})


@dataclass(frozen=True)
class Dataset:
    info: Callable[[object], DataInfo]  # data config -> DataInfo
    build: Callable  # (data config, seed, device, progress=True) -> batch source
    eval: EvalSpec = EvalSpec()


DATASETS: Registry[Dataset] = Registry("data set", "data.name")


def _register_idx(name: str) -> None:
    def info(dcfg) -> DataInfo:
        return DataInfo(kind="image", shape=(1, 28, 28), num_classes=10, name=name)

    def build(dcfg, seed: int, device, progress: bool = True):
        images, labels = load_idx_set(name, dcfg.split, dcfg.root or None, dcfg.download, progress)
        if dcfg.exclude_classes:  # e.g. one digit left out: the anomaly of an anomaly-detection benchmark
            keep = ~torch.isin(labels, torch.tensor(dcfg.exclude_classes))
            images, labels = images[keep], labels[keep]
        return InMemoryBatches(images, labels, dcfg.batch_size, seed, info(dcfg), device)

    DATASETS.register(name)(Dataset(info, build, EvalSpec(
        metrics=("fid", "kid", "is", "prdc", "class_freq"), labelled_metrics=("accuracy", "intra_fid"),
        extractor=f"{name}_classifier", provides=frozenset({"features", "probs", "classes"}))))


def _register_toy(name: str) -> None:
    def info(dcfg) -> DataInfo:
        centers, classes = mixture_centers(name), mixture_classes(name)
        return DataInfo(kind="points", shape=(centers.shape[1],), name=name, centers=centers, std=mixture_std(name),
                        num_classes=int(classes.max()) + 1 if classes is not None else 0)

    def build(dcfg, seed: int, device, progress: bool = True):
        return ToyBatches(mixture_centers(name), mixture_std(name), dcfg.batch_size, seed, info(dcfg),
                          dcfg.toy_epoch_size, device, classes=mixture_classes(name))

    DATASETS.register(name)(Dataset(info, build, EvalSpec(  # n as in PacGAN / VEEGAN
        kind="points", metrics=("modes",), n=2_500, provides=frozenset({"modes"}))))


def _register_stacked() -> None:
    def info(dcfg) -> DataInfo:
        return DataInfo(kind="image", shape=(3, 28, 28), num_classes=1000, name="stacked_mnist")

    def build(dcfg, seed: int, device, progress: bool = True):
        images, labels = stacked_mnist(dcfg.split, dcfg.num_samples, dcfg.root or None, dcfg.download)
        return InMemoryBatches(images, labels, dcfg.batch_size, seed, info(dcfg), device)

    DATASETS.register("stacked_mnist")(Dataset(info, build, EvalSpec(  # n as in PacGAN
        metrics=("fid", "kid", "prdc", "modes"), n=26_000, extractor="mnist_classifier", per_channel=True,
        provides=frozenset({"features", "modes"}))))


def folder_class_names(dcfg) -> tuple[str, ...]:
    """A folder's classes: those recorded with the run (``data.class_names``), else read from
    ``data.labels`` (subfolder names or the dataset.json; no image is listed or decoded)."""
    if not getattr(dcfg, "labels", ""):
        return ()
    if dcfg.class_names:
        return tuple(dcfg.class_names)
    from .folder import label_names

    return label_names(dcfg.path, dcfg.labels)


def _register_folder() -> None:
    def info(dcfg) -> DataInfo:
        names = folder_class_names(dcfg)
        return DataInfo(kind="image", shape=(3, dcfg.size, dcfg.size), name="folder", num_classes=len(names),
                        class_names=names)

    def build(dcfg, seed: int, device, progress: bool = True):
        from .folder import load_folder, load_labelled_folder

        if not dcfg.labels:
            images = load_folder(dcfg.path, dcfg.size, dcfg.split, dcfg.val_held, progress=progress)
            return InMemoryBatches(images, None, dcfg.batch_size, seed, info(dcfg), device)
        images, labels, names = load_labelled_folder(dcfg.path, dcfg.size, dcfg.split, dcfg.val_held,
                                                     dcfg.labels, progress=progress)
        if dcfg.class_names and tuple(dcfg.class_names) != names:
            raise GanforgeError(f"data.labels={dcfg.labels} under {dcfg.path} names the classes {', '.join(names)}, "
                                f"not data.class_names = {', '.join(dcfg.class_names)} (the classes the run was "
                                "trained on, or set by hand); restore the folder's labels, or start a new run "
                                "without data.class_names")
        return InMemoryBatches(images, labels, dcfg.batch_size, seed,
                               DataInfo(kind="image", shape=(3, dcfg.size, dcfg.size), name="folder",
                                        num_classes=len(names), class_names=names), device)

    DATASETS.register("folder")(Dataset(info, build, EvalSpec(kind="folder", labelled_metrics=("accuracy",))))


for _name in IDX_SETS:
    _register_idx(_name)
_register_stacked()
_register_folder()
for _name in TOY_MIXTURES:
    _register_toy(_name)


def build_data(dcfg, seed: int, device: torch.device | str = "cpu", progress: bool = True):
    """Build the batch source named by ``dcfg.name`` (``progress``: bars while loading/decoding);
    with ``data.labels_per_class`` the semi-supervised source over it (labels hidden but for a
    seeded choice of that many per class)."""
    source = DATASETS.get(dcfg.name).build(dcfg, seed, device, progress=progress)
    if dcfg.labels_per_class > 0:
        pool_x, pool_y = source.labelled_pool(dcfg.labels_per_class, seed)
        source = SemiSupervisedBatches(source, pool_x, pool_y, dcfg.batch_size, seed)
    return source


def data_info(dcfg) -> DataInfo:
    """Shape and kind of a data set's samples, without loading it."""
    return DATASETS.get(dcfg.name).info(dcfg)


__all__ = ["DATASETS", "DataInfo", "Dataset", "EvalSpec", "folder_class_names", "InMemoryBatches", "SemiSupervisedBatches", "ToyBatches", "build_data", "data_info", "load_idx_set", "stacked_mnist"]
