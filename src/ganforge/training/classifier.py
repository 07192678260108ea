"""Training the feature classifier of MNIST / Fashion-MNIST metrics: ``ganforge train-classifier``.

The network and the loading of the shipped weights live in :mod:`ganforge.features.classifier`;
this module trains it (affine jitter, AdamW, one-cycle schedule, fixed seed) and writes the weights
with their JSON card (test accuracy, feature scale, seed, epochs, sha256) into the package's
``weights/`` folder (or ``out_dir``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..files import file_sha256
from ..features.classifier import FEATURE_DIM, WEIGHTS_DIR, DigitClassifier


def _augment(x: torch.Tensor, gen: torch.Generator, flip: bool) -> torch.Tensor:
    """Random small affine jitter (+-2 px shift, +-10 deg rotation, 0.9-1.1 scale), optional h-flip."""
    b = x.shape[0]
    angle = (torch.rand(b, generator=gen) * 2 - 1) * (10 * np.pi / 180)
    scale = 1 + (torch.rand(b, generator=gen) * 2 - 1) * 0.1
    shift = (torch.rand(b, 2, generator=gen) * 2 - 1) * (2 / 14)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    if flip:
        theta[:, 0, 0] *= torch.where(torch.rand(b, generator=gen) < 0.5, -1.0, 1.0)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, padding_mode="border", align_corners=False)


@torch.no_grad()
def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch: int = 1000) -> float:
    model.eval()
    correct = 0
    for i in range(0, len(images), batch):
        x = images[i:i + batch].float() / 127.5 - 1
        correct += (model(x)[1].argmax(1) == labels[i:i + batch]).sum().item()
    return correct / len(images)


@torch.no_grad()
def feature_scale(model: nn.Module, images: torch.Tensor, batch: int = 1000) -> float:
    """1 / RMS of the 128-d features over ``images``: shipped in the card and applied by the
    extractor so that features have unit scale per dimension (KID's cubic kernel with gamma = 1/d
    then sees values of order 1, as with Inception features)."""
    model.eval()
    total, count = 0.0, 0
    for i in range(0, len(images), batch):
        f = model(images[i:i + batch].float() / 127.5 - 1)[0].double()
        total += f.pow(2).sum().item()
        count += f.numel()
    return float((count / total) ** 0.5)


def fit_classifier(model: nn.Module, x_train: torch.Tensor, y_train: torch.Tensor, x_eval: torch.Tensor,
                   y_eval: torch.Tensor, gen: torch.Generator, epochs: int, batch_size: int, lr: float, flip: bool,
                   eval_name: str = "test", eval_batch: int = 1000, log=print) -> float:
    """Train ``model`` (returning ``(features, logits)``) on uint8 images with cross-entropy: affine
    jitter (and h-flips with ``flip``), AdamW with weight decay 5e-4, a one-cycle schedule peaking at
    ``lr``, ``len(x_train) // batch_size`` steps per epoch drawn by ``gen``; logs the accuracy on
    ``x_eval`` after each epoch and returns the last one. No label smoothing: IS needs a calibrated,
    confident softmax."""
    start = time.time()
    steps_per_epoch = max(1, len(x_train) // batch_size)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * steps_per_epoch)
    acc = float("nan")
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(x_train), generator=gen)
        for i in range(steps_per_epoch):
            idx = perm[i * batch_size:(i + 1) * batch_size]
            x = _augment(x_train[idx].float() / 127.5 - 1, gen, flip)
            loss = F.cross_entropy(model(x)[1], y_train[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        acc = accuracy(model, x_eval, y_eval, batch=eval_batch)
        log(f"epoch {epoch + 1}/{epochs}: {eval_name} accuracy {acc:.4f} ({time.time() - start:.0f} s)")
    return acc


def train_classifier(data: str, epochs: int = 8, seed: int = 0, batch_size: int = 128, lr: float = 2e-3,
                     root: str | None = None, out_dir: Path | None = None, log=print) -> dict:
    """Train the classifier on ``data`` (mnist | fashion_mnist), write weights + card, return the card."""
    from ..data.mnist import load_idx_set

    torch.manual_seed(seed)
    gen = torch.Generator()
    gen.manual_seed(seed)
    x_train, y_train = load_idx_set(data, "train", root)
    x_test, y_test = load_idx_set(data, "test", root)
    model = DigitClassifier()
    start = time.time()
    acc = fit_classifier(model, x_train, y_train, x_test, y_test, gen, epochs=epochs, batch_size=batch_size, lr=lr,
                         flip=data == "fashion_mnist", eval_name="test", log=log)
    out_dir = Path(out_dir) if out_dir else WEIGHTS_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    weights = out_dir / f"{data}_classifier.pt"
    torch.save({k: v.clone() for k, v in model.state_dict().items()}, weights)
    card = {
        "data": data,
        "arch": "DigitClassifier",
        "feature_dim": FEATURE_DIM,
        "test_accuracy": round(acc, 4),
        "feature_scale": feature_scale(model, x_train),
        "seed": seed,
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "torch": torch.__version__,
        "train_seconds": round(time.time() - start, 1),
        "sha256": file_sha256(weights),
        "command": f"ganforge train-classifier --data {data} --epochs {epochs} --seed {seed}",
    }
    (out_dir / f"{data}_classifier.json").write_text(json.dumps(card, indent=2) + "\n")
    return card
