"""Semi-supervised classification with a GAN (Salimans et al. 2016, "Improved techniques for
training GANs", section 5).

Training is the ordinary trainer with ``model.conditioning=semi``: D has K class logits and the
fake class is implicit (D(x) = Z/(Z+1), Z = sum_k exp l_k), its loss is the GAN loss on the
logsumexp logit plus cross-entropy on the few labelled images (``data.labels_per_class``), and G
is trained by feature matching (``loss.feature_matching=true``). The trained D *is* the classifier:
its predicted class is argmax_k l_k. This module measures it (importing it registers that
measurement with ``ganforge eval``: :data:`ganforge.evaluation.run.RUN_METRICS`) and trains the baseline that shows what the unlabelled data bought: the same network,
the same optimiser and steps, on the labelled images alone.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import GanforgeError
from ..evaluation.run import RUN_METRICS, load_discriminator


@torch.no_grad()
def predict(D, x: torch.Tensor, batch: int = 1000, device="cpu") -> np.ndarray:
    """D's class predictions argmax_k l_k for samples ``x`` (floats in the data range)."""
    was = D.training
    D.eval()
    out = []
    for i in range(0, len(x), batch):
        _, cls = D(x[i:i + batch].to(device), None, return_classes=True)
        if cls is None:
            raise GanforgeError("this discriminator has no class logits (train with model.conditioning=semi)")
        out.append(cls.argmax(1).cpu())
    D.train(was)
    return torch.cat(out).numpy()


def test_set(cfg, n: int | None = None, seed: int = 0) -> tuple[torch.Tensor, np.ndarray]:
    """(samples in the data range, labels) to measure a classifier on: the test split of an image
    data set, ``n`` (default 10,000) fresh points of a labelled toy mixture."""
    from ..data import DATASETS, build_data
    from ..config import DataConfig

    if DATASETS.get(cfg.data.name).eval.kind == "points":
        n = n or 10_000
        src = build_data(DataConfig(name=cfg.data.name, batch_size=n), seed + 99_991)
        x, y = src.next()
        return x, y.numpy()
    from ..evaluation.reference import load_reference_images

    from ..data.batches import to_unit

    images, labels = load_reference_images(cfg.data.name, "test", cfg.data.root or None, cfg.data)
    if labels is None:
        raise GanforgeError(f"{cfg.data.name} has no labelled test split to measure a classifier on")
    if n:
        images, labels = images[:n], labels[:n]
    return to_unit(images), labels.numpy()


def classifier_test_accuracy(D, cfg, n: int | None = None, seed: int = 0, device="cpu", data=None) -> dict:
    """{'d_test_accuracy', 'd_test_error', 'd_test_n'}: D as a classifier on the test set (``data``:
    that set as :func:`test_set` returned it, to measure several classifiers on one load)."""
    x, y = data if data is not None else test_set(cfg, n, seed)
    acc = float((predict(D, x, device=device) == y).mean())
    return {"d_test_accuracy": acc, "d_test_error": 1.0 - acc, "d_test_n": int(len(y))}


def train_supervised(cfg, steps: int | None = None, device="cpu", progress: bool = False):
    """The baseline: the run's D network trained with cross-entropy on the labelled images alone
    (the same labelled choice, batch size, optimiser, learning-rate schedule and number of steps).
    Returns the trained network."""
    from ..build import resolve_device
    from ..data import build_data
    from ..models import build_discriminator
    from ..training.optimizers import make_optimizer
    from ..training.rng import seed_everything
    from ..training.schedules import make_schedulers
    from ..training.trainer import planned_steps

    if cfg.model.conditioning != "semi" or cfg.data.labels_per_class < 1:
        raise GanforgeError("the supervised baseline needs a semi-supervised config (model.conditioning=semi, "
                            "data.labels_per_class >= 1)")
    device = resolve_device(device) if isinstance(device, str) else device
    seed_everything(cfg.seed)
    data = build_data(cfg.data, cfg.seed, device, progress=progress)
    D = build_discriminator(cfg.model, data.info).to(device)
    opt = make_optimizer(D.parameters(), cfg.optim, cfg.optim.d_lr)
    steps = steps or planned_steps(cfg, data.batches_per_epoch)
    sched = make_schedulers(cfg.optim, steps, [opt])
    D.train()
    for _ in range(steps):
        for _ in range(cfg.train.d_steps):
            x, y = data.next_labelled(device)
            _, cls = D(x, None, return_classes=True)
            loss = F.cross_entropy(cls.float(), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        for s in sched:
            s.step()
    return D


@RUN_METRICS.register("semi_classifier")
def run_classifier_metrics(cfg, state, seed: int = 0) -> dict | None:
    """What ``ganforge eval`` adds for a semi-supervised run: its D's test accuracy and error (the
    weight-averaged D where the run kept one, with the last weights' error beside it); None for other runs."""
    if cfg.model.conditioning != "semi":
        return None
    data = test_set(cfg, seed=seed)
    out = classifier_test_accuracy(load_discriminator(cfg, state, averaged=True), cfg, data=data)
    if state.get("d_ema") is not None:  # the averaged D is the classifier; the last weights' error beside it
        out["d_last_test_error"] = classifier_test_accuracy(load_discriminator(cfg, state), cfg, data=data)["d_test_error"]
    return out


__all__ = ["predict", "classifier_test_accuracy", "test_set", "train_supervised", "run_classifier_metrics"]
