"""Samples that come from a file or from real data, and the device and sample-count checks of an
evaluation: an .npz written by ``ganforge sample`` (or by hand), the real-data baseline (real
training images scored like samples), and a result as text. Nothing here loads a run; that is
:mod:`.run`, one floor up."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..errors import GanforgeError
from .catalog import eval_spec
from .reference import load_reference_images


def eval_device(device: str) -> str:
    """``auto`` -> cuda when available, else cpu; a CUDA device asked for where there is none is one line."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise GanforgeError(f"--device {device}: CUDA is not available here; use --device cpu (or auto)")
    return device


def check_n(n: int | None) -> None:
    if n is not None and (isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1):
        raise GanforgeError(f"the number of samples must be a whole number >= 1, got {n!r}")


def samples_from_npz(path: str | Path, data: str | None) -> tuple[dict, str]:
    """(samples dict, data set name) of an .npz written by ``ganforge sample`` (or by hand)."""
    try:
        with np.load(path) as f:
            samples = {k: f[k] for k in f.files}
    except (OSError, ValueError, EOFError) as exc:
        raise GanforgeError(f"cannot read samples file {path} ({' '.join(str(exc).split())}); "
                            "expected an .npz from ganforge sample") from None
    if not samples:
        raise GanforgeError(f"{path} holds no arrays; expected an .npz from ganforge sample ('images' or 'points')")
    name = data or (str(samples.pop("data")) if "data" in samples else None)
    samples.pop("data", None)
    if not name:
        raise GanforgeError(f"{path} does not say which data set it imitates; pass --data NAME")
    if not samples:
        raise GanforgeError(f"{path} holds no samples, only 'data'; expected 'images' or 'points'")
    return samples, name


def real_baseline(data: str, n: int | None = None, seed: int = 0, root=None, dcfg=None) -> dict:
    """``n`` random training images (or mixture points) as "samples": what real data scores.

    ``data="folder"`` takes the training split of the image folder that ``dcfg`` describes.
    """
    check_n(n)
    spec = eval_spec(data)
    gen = torch.Generator()
    gen.manual_seed(seed)
    n = n or spec.n
    if spec.kind == "points":
        from ..config import DataConfig
        from ..data import build_data

        src = build_data(DataConfig(name=data, batch_size=n), seed)
        return {"points": src.next()[0].numpy()}
    if spec.kind == "folder" and (dcfg is None or not dcfg.path):
        raise GanforgeError("the real baseline of an image folder needs its run: --real-baseline RUN_DIR")
    images, labels = load_reference_images(data, "train", root, dcfg)
    idx = torch.randperm(len(images), generator=gen)[:n]
    out = {"images": images[idx].numpy()}
    if labels is not None and "classes" in spec.provides:  # Stacked MNIST's labels are its modes, not classes
        out["labels"] = labels[idx].numpy()
    return out


def format_result(result: dict) -> str:
    """The result as indented ``key value`` lines (lists and dicts left out) under a title line."""
    lines = [f"{result['source']}: {result['data']}, {result['n']} samples, {result['seconds']} s"]
    for key, value in result.items():
        if key in ("source", "data", "n", "seconds", "step") or isinstance(value, (list, dict)):
            continue
        lines.append(f"  {key:<14} {value:.4f}" if isinstance(value, float) else f"  {key:<14} {value}")
    return "\n".join(lines)
