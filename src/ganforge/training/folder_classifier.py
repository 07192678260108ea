"""Training a labelled image folder's classifier: ``ganforge train-classifier --data folder``.

The network (:class:`~ganforge.features.folder_classifier.FolderClassifier`) is trained as the
shipped MNIST classifier is (affine jitter plus horizontal flips, AdamW, one-cycle schedule, fixed
seed) on the folder's training split and labels (``--labels``: class subfolders or a dataset.json),
and measured on its held-out split (the same seeded split as ``data.val_fraction``). The weights
``FILE.pt`` and the card ``FILE.json`` (held-out accuracy, sha256, image size, channels, class
names, the folder's fingerprint, feature scale) are written side by side.
"""

from __future__ import annotations

import hashlib
import io
import json
import time
from pathlib import Path

import numpy as np
import torch

from ..errors import GanforgeError
from ..files import file_sha256, write_atomic
from ..features.folder_classifier import FEATURE_DIM, FolderClassifier, card_path
from .classifier import feature_scale, fit_classifier


def _labels_sha1(labels: torch.Tensor, names: tuple[str, ...]) -> str:
    h = hashlib.sha1(json.dumps(list(names)).encode())
    h.update(labels.numpy().astype(np.int64).tobytes())
    return h.hexdigest()


def train_folder_classifier(path, labels: str = "folders", size: int = 64, out=None, epochs: int = 8, seed: int = 0,
                            batch_size: int = 128, lr: float = 2e-3, val_fraction: float = 0.05,
                            progress: bool = True, log=print) -> dict:
    """Train the classifier of the labelled folder ``path``, write weights + card, return the card
    (with ``weights`` and ``card``: the two paths)."""
    from ..data.folder import folder_id, load_labelled_folder, split_indices

    if not (0 < val_fraction < 1 or (val_fraction >= 1 and float(val_fraction).is_integer())):
        raise GanforgeError(f"--val-fraction must be in (0, 1) (or a whole number of held-out images), got "
                            f"{val_fraction:g}: the classifier's accuracy is measured on held-out images")
    images, y, names = load_labelled_folder(path, size, "all", 0.0, labels, progress=progress)
    if len(names) < 2:
        raise GanforgeError(f"a classifier needs 2 or more classes; the labels ({labels}) of {path} name "
                            f"{len(names)} ({', '.join(names)})")
    val = torch.from_numpy(split_indices(len(images), "val", float(val_fraction)))
    train = torch.from_numpy(split_indices(len(images), "train", float(val_fraction)))
    x_train, y_train, x_val, y_val = images[train], y[train], images[val], y[val]
    torch.manual_seed(seed)
    gen = torch.Generator()
    gen.manual_seed(seed)
    model = FolderClassifier(len(names), channels=images.shape[1])
    batch = min(batch_size, len(x_train))
    start = time.time()
    acc = fit_classifier(model, x_train, y_train, x_val, y_val, gen, epochs=epochs, batch_size=batch, lr=lr, flip=True,
                         eval_name="held-out", eval_batch=256, log=log)
    weights = Path(out) if out else Path(f"{Path(path).resolve().name}_classifier_{size}px.pt")
    weights.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    buffer = io.BytesIO()  # saved from memory: the archive's inner name (and so the sha256) is not the temp file's
    torch.save(state, buffer)
    write_atomic(weights, lambda f: f.write(buffer.getvalue()))
    card = {
        "data": "folder",
        "path": str(Path(path).resolve()),
        "labels": labels,
        "fingerprint": folder_id(path, size),
        "labels_sha1": _labels_sha1(y, names),
        "val_fraction": val_fraction,
        "n_train": len(x_train),
        "n_val": len(x_val),
        "arch": "FolderClassifier",
        "size": int(size),
        "channels": int(images.shape[1]),
        "class_names": list(names),
        "feature_dim": FEATURE_DIM,
        "val_accuracy": round(acc, 4),
        "feature_scale": feature_scale(model, x_train, batch=256),
        "seed": seed,
        "epochs": epochs,
        "batch_size": batch,
        "lr": lr,
        "torch": torch.__version__,
        "train_seconds": round(time.time() - start, 1),
        "sha256": file_sha256(weights),
        "command": f"ganforge train-classifier --data folder --data-path {path} --labels {labels} --size {size} "
                   f"--epochs {epochs} --seed {seed} --val-fraction {val_fraction:g} --out {weights}",
    }
    card_file = card_path(weights)
    write_atomic(card_file, lambda f: f.write((json.dumps(card, indent=2) + "\n").encode()))
    return {**card, "weights": str(weights), "card": str(card_file)}
