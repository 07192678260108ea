"""Metrics of labelled (class-conditional) samples.

- :func:`class_accuracy`: how often a classifier predicts the label a sample was generated for,
  overall and per class.
- :func:`class_frequencies`: how often a classifier predicts each class on unlabelled samples,
  beside the class frequencies of a labelled reference (an unconditional generator should match
  the training set's, which for MNIST is not uniform).
- :func:`intra_class_fid`: mean over classes of the FID between the samples of a class and the
  real images of that class (Miyato & Koyama 2018).
"""

from __future__ import annotations

import numpy as np

from .fid import fid_from_features


def _as_array(x) -> np.ndarray:
    if hasattr(x, "detach"):  # torch.Tensor, without importing torch
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def class_accuracy(probs, labels, num_classes: int = 10) -> dict:
    """{'accuracy', 'accuracy_per_class' (nan for a class without samples)} of class
    probabilities ``probs`` (N x K) against ``labels`` (N,)."""
    pred = _as_array(probs).argmax(1)
    labels = _as_array(labels)
    per_class = [float((pred[labels == c] == c).mean()) if (labels == c).any() else float("nan")
                 for c in range(num_classes)]
    return {"accuracy": float((pred == labels).mean()), "accuracy_per_class": per_class}


def class_frequencies(probs, ref_labels, num_classes: int | None = None) -> dict:
    """{'class_freq', 'class_freq_ref' (fractions per class), 'class_freq_max_dev' (the largest
    absolute difference, in percentage points)} of the classifier's predictions ``probs`` (N x K)
    against the labels ``ref_labels`` of a reference set."""
    probs, ref = _as_array(probs), _as_array(ref_labels).astype(np.int64)
    k = num_classes or probs.shape[1]
    fake = np.bincount(probs.argmax(1), minlength=k)[:k] / len(probs)
    real = np.bincount(ref, minlength=k)[:k] / len(ref)
    return {"class_freq": fake.tolist(), "class_freq_ref": real.tolist(),
            "class_freq_max_dev": float(100 * np.abs(fake - real).max())}


def intra_class_fid(real, real_labels, fake, fake_labels) -> dict:
    """{'intra_fid', 'intra_fid_per_class'}: FID per class of ``real_labels``, between the real
    features of that class and the fake features labelled with it. Every class needs >= 2 of each."""
    real, real_labels = _as_array(real), _as_array(real_labels)
    fake, fake_labels = _as_array(fake), _as_array(fake_labels)
    per_class = []
    for c in np.unique(real_labels):
        sel = fake_labels == c
        if sel.sum() < 2:
            raise ValueError(f"intra-class FID needs at least 2 samples of every class; class {c} has {sel.sum()}")
        per_class.append(fid_from_features(real[real_labels == c], fake[sel]))
    return {"intra_fid": float(np.mean(per_class)), "intra_fid_per_class": per_class}
