"""The real images samples are compared with, and the cache of their features.

Images are compared with the data set's **test split** (10,000 images for MNIST-like data), or
an image folder's held-out split. Reference features are computed once and cached under
``$GANFORGE_CACHE`` (default ``~/.cache/ganforge/stats``) as
``<reference name>_<split>_<extractor name>-<sha256[:16]>-s<feature scale>.npz``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from ..files import write_atomic


def cache_dir() -> Path:
    env = os.environ.get("GANFORGE_CACHE")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "ganforge" / "stats"


def load_reference_images(data: str, split: str = "test", root=None, dcfg=None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(uint8 images, labels or None) of ``split`` of ``data`` (``dcfg`` describes a folder)."""
    from ..data import load_idx_set, stacked_mnist

    if data == "folder":
        from ..data.folder import load_folder, load_labelled_folder

        if dcfg.labels:  # a labelled folder: its labels follow the images into the split
            images, labels, _ = load_labelled_folder(dcfg.path, dcfg.size, split, dcfg.val_held, dcfg.labels)
            return images, labels
        return load_folder(dcfg.path, dcfg.size, split, dcfg.val_held), None
    if data == "stacked_mnist":
        return stacked_mnist(split, 0, root)
    return load_idx_set(data, split, root)


def train_labels(data: str, root=None, dcfg=None) -> np.ndarray:
    """The labels of ``data``'s training split (the reference for class frequencies)."""
    return load_reference_images(data, "train", root, dcfg)[1].numpy()


def reference_features(profile, split: str | None = None, root=None) -> tuple[np.ndarray, np.ndarray | None]:
    """(features, labels) of the reference split, cached by (data set, split, extractor sha256).

    ``profile`` is an :class:`~ganforge.evaluation.images.ImageProfile`: it names the reference and
    the extractor, and featurises the images.
    """
    split = split or profile.reference_split
    path = cache_dir() / f"{profile.reference_name}_{split}_{profile.key}.npz"
    if path.is_file():
        try:
            with np.load(path) as f:
                return f["features"], (f["labels"] if "labels" in f.files else None)
        except (OSError, ValueError, KeyError, EOFError):
            pass  # a damaged or old cache file is recomputed
    images, labels = load_reference_images(profile.data, split, root, profile.dcfg)
    feats = profile(images)["features"].astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    extra = {} if labels is None else {"labels": labels.numpy()}
    write_atomic(path, lambda f: np.savez(f, features=feats, **extra))
    return feats, None if labels is None else labels.numpy()
