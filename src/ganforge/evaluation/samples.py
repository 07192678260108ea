"""What evaluation takes: a dict of samples (``images`` uint8 N x C x H x W, or ``points`` N x 2,
optionally ``labels``), checked against the data set before any network runs."""

from __future__ import annotations

import time

import numpy as np
import torch

from ..data import DATASETS
from ..errors import GanforgeError
from ..viz import to_uint8
from .catalog import check_counts, eval_spec, validate_metrics
from .images import evaluate_images
from .points import evaluate_points


def as_samples(x, data: str, labels=None) -> dict:
    """A samples dict from generator output ``x`` (images in [-1, 1], or points) and optional labels."""
    x = torch.as_tensor(x).detach().cpu()
    samples = {"points": x.numpy()} if eval_spec(data).kind == "points" else {"images": to_uint8(x).numpy()}
    if labels is not None:
        samples["labels"] = torch.as_tensor(labels).cpu().numpy()
    return samples


def _shape(a: np.ndarray) -> str:
    return f"{' x '.join(str(d) for d in a.shape) or 'a scalar'} {a.dtype}"


def check_samples(samples: dict, data: str, dcfg=None) -> tuple[np.ndarray, np.ndarray | None]:
    """(images or points, labels or None) of ``samples``, or one line saying what is wrong with them."""
    spec = eval_spec(data)
    if spec.kind == "folder" and (dcfg is None or not getattr(dcfg, "path", "")):
        raise GanforgeError("evaluating image-folder samples needs the run's data config "
                            "(evaluate the run directory, not a bare .npz)")
    info = DATASETS.get(data).info(dcfg)
    if spec.kind == "points":
        if "points" not in samples:
            raise GanforgeError(f"{data} samples must be {info.shape[0]}-D points (key 'points', N x {info.shape[0]})")
        x = np.asarray(samples["points"])
        if x.ndim != 2 or x.shape[1:] != tuple(info.shape) or not np.issubdtype(x.dtype, np.number):
            raise GanforgeError(f"{data} samples must be N x {info.shape[0]} numbers, got {_shape(x)}")
        if not np.isfinite(x).all():
            raise GanforgeError(f"{data} samples hold {int((~np.isfinite(x)).any(1).sum())} point(s) that are "
                                "not finite (nan or inf); the generator diverged")
        what = "points"
    else:
        if "images" not in samples:
            raise GanforgeError(f"{data} samples must be images (key 'images', N x C x H x W uint8)")
        x = np.asarray(samples["images"])
        want = " x ".join(str(d) for d in info.shape)
        if x.dtype != np.uint8 or x.ndim != 4 or x.shape[1:] != tuple(info.shape):
            raise GanforgeError(f"{data} samples must be N x {want} uint8 images, got {_shape(x)}")
        what = "images"
    if len(x) == 0:
        raise GanforgeError(f"the {data} samples are empty (0 {what})")
    labels = samples.get("labels")
    if labels is not None:
        labels = np.asarray(labels)
        if labels.shape != (len(x),) or not np.issubdtype(labels.dtype, np.integer):
            raise GanforgeError(f"labels must be {len(x)} integers (one per sample), got {_shape(labels)}")
        if info.num_classes and (labels.min() < 0 or labels.max() >= info.num_classes):
            raise GanforgeError(f"labels must be in 0..{info.num_classes - 1} for {data}, "
                                f"got {labels.min()}..{labels.max()}")
    return x, labels


def evaluate_samples(samples: dict, data: str, metrics: list[str], **kw) -> dict:
    """Metrics of ``samples`` ('images' uint8 or 'points', optionally 'labels') of data set ``data``.

    Names, samples and sample counts are checked before any network runs; ``kw`` go to
    :func:`~ganforge.evaluation.images.evaluate_images` (``dcfg``, ``inception_weights``, ``features``, ``device``,
    ``progress``, ``root``, ``kid_subsets``, ``kid_subset_size``).
    """
    start = time.perf_counter()
    names = validate_metrics(metrics, data, labelled=samples.get("labels") is not None,
                             inception_weights=kw.get("inception_weights"), features=kw.get("features"),
                             dcfg=kw.get("dcfg"),
                             discriminator=kw.get("discriminator") is not None)
    x, labels = check_samples(samples, data, kw.get("dcfg"))
    check_counts(names, len(x))
    if eval_spec(data).kind == "points":
        kw.pop("discriminator", None)
        out = evaluate_points(x, data, names)
    else:
        out = evaluate_images(x, data, names, labels, **kw)
    return {"data": data, "n": len(x), **out, "seconds": round(time.perf_counter() - start, 2)}
