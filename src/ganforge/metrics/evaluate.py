"""Evaluation of samples against a data set's reference split: the engine behind ``ganforge eval``.

Images are compared with the data set's **test split** (10,000 images for MNIST-like data), in
the feature space of that data set's extractor; the real-data baseline (10,000 training images
vs the same test split) is therefore directly comparable. Reference features are computed once
and cached under ``$GANFORGE_CACHE`` (default ``~/.cache/ganforge/stats``), keyed by data set,
split, size and the extractor's sha256.

Metric names: ``fid``, ``kid``, ``is``, ``prdc``, ``modes``, ``accuracy`` (class accuracy of
labelled samples by the data set's classifier, overall and per class) and ``intra_fid`` (mean over
classes of the FID between the samples of a class and the test images of that class).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import torch

from ..errors import GanforgeError
from .fid import fid_from_features
from .inception_score import inception_score
from .kid import kernel_inception_distance
from .modes import stacked_mode_stats, toy_mode_stats
from .prdc import prdc

ALL_METRICS = ("fid", "kid", "is", "prdc", "modes", "accuracy", "intra_fid")
IMAGE_SETS = ("mnist", "fashion_mnist", "stacked_mnist")
TOY_SETS = ("ring8", "grid25")
DEFAULT_METRICS = {
    "mnist": ("fid", "kid", "is", "prdc"),
    "fashion_mnist": ("fid", "kid", "is", "prdc"),
    "stacked_mnist": ("fid", "kid", "prdc", "modes"),
    "ring8": ("modes",),
    "grid25": ("modes",),
    "folder": ("fid", "kid", "prdc"),
}


def cache_dir() -> Path:
    env = os.environ.get("GANFORGE_CACHE")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "ganforge" / "stats"


def parse_metrics(text: str | None, data: str, labelled: bool = False) -> list[str]:
    if not text:
        names = list(DEFAULT_METRICS.get(data, ("fid", "kid", "prdc")))
        if labelled and data in ("mnist", "fashion_mnist"):
            names += ["accuracy", "intra_fid"]
        return names
    names = [m.strip() for m in text.split(",") if m.strip()]
    for m in names:
        if m not in ALL_METRICS:
            import difflib

            close = difflib.get_close_matches(m, ALL_METRICS, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise GanforgeError(f"unknown metric '{m}'{hint}; choose from {', '.join(ALL_METRICS)}")
    return names


class ImageProfile:
    """How to featurise one image data set: extractor, and per-channel handling for Stacked MNIST.

    MNIST-like data use the shipped classifier of the data set. Image folders (``data="folder"``,
    ``dcfg`` giving path/size/val_fraction) use the FID Inception-v3 when ``inception_weights``
    names its file, else area-downsampled pixels (classifier-free; see ``pixel_extractor``).
    """

    def __init__(self, data: str, device="cpu", progress: bool = False, dcfg=None, inception_weights=None):
        from .features import load_classifier, pixel_extractor

        self.data, self.dcfg, self.progress = data, dcfg, progress
        if data == "folder":
            if dcfg is None or not dcfg.path:
                raise GanforgeError("evaluating image-folder samples needs the run's data config "
                                    "(evaluate the run directory, not a bare .npz)")
            if inception_weights:
                from .inception import load_fid_inception

                self.extractor = load_fid_inception(inception_weights, device)
            else:
                self.extractor = pixel_extractor(16, device)
        elif data in IMAGE_SETS:
            self.extractor = load_classifier("fashion_mnist" if data == "fashion_mnist" else "mnist", device)
        else:
            raise GanforgeError(f"no image evaluation for data set '{data}'; use one of "
                                f"{', '.join(IMAGE_SETS + ('folder',))}")

    @property
    def key(self) -> str:
        return f"{self.extractor.name}-{self.extractor.sha256[:16]}-s{self.extractor.scale:.6g}"

    @property
    def reference_split(self) -> str:
        """The split samples are compared with: the test split, or a folder's held-out images."""
        if self.data == "folder":
            return "val" if self.dcfg.val_fraction > 0 else "all"
        return "test"

    @property
    def reference_name(self) -> str:
        if self.data == "folder":
            from ..data.folder import folder_id

            return f"folder-{folder_id(self.dcfg.path, self.dcfg.size)}-{self.dcfg.size}px-v{self.dcfg.val_fraction:g}"
        return self.data

    def __call__(self, images) -> dict:
        """{'features', 'probs' (None when there are no classes), 'digits' (stacked only: N x 3)}."""
        images = torch.as_tensor(np.asarray(images))
        if self.data == "stacked_mnist":
            if images.shape[1:] != (3, 28, 28):
                raise GanforgeError(f"stacked_mnist samples must be N x 3 x 28 x 28, got {tuple(images.shape)}")
            feats, digits = [], []
            for c in range(3):
                f, p = self.extractor(images[:, c:c + 1].contiguous(), progress=self.progress)
                feats.append(f)
                digits.append(p.argmax(1))
            return {"features": np.concatenate(feats, 1), "probs": None, "digits": np.stack(digits, 1)}
        feats, probs = self.extractor(images, progress=self.progress)
        return {"features": feats, "probs": probs, "digits": None}


def load_reference_images(data: str, split: str = "test", root=None, dcfg=None) -> tuple[torch.Tensor, torch.Tensor | None]:
    from ..data import load_idx_set, stacked_mnist

    if data == "folder":
        from ..data.folder import load_folder

        return load_folder(dcfg.path, dcfg.size, split, dcfg.val_fraction), None
    if data == "stacked_mnist":
        return stacked_mnist(split, 0, root)
    return load_idx_set(data, split, root)


def reference_features(profile: ImageProfile, split: str | None = None, root=None) -> tuple[np.ndarray, np.ndarray | None]:
    """(features, labels) of the reference split, cached by (data set, split, extractor sha256)."""
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
    tmp = path.with_name(path.name + ".tmp.npz")
    extra = {} if labels is None else {"labels": labels.numpy()}
    np.savez(tmp, features=feats, **extra)
    os.replace(tmp, path)
    return feats, None if labels is None else labels.numpy()


def intra_class_fid(real: np.ndarray, real_labels: np.ndarray, fake: np.ndarray, fake_labels: np.ndarray) -> dict:
    """Mean over classes of FID(samples of class c, test images of class c) (Miyato & Koyama 2018)."""
    per_class = []
    for c in np.unique(real_labels):
        sel = fake_labels == c
        if sel.sum() < 2:
            raise GanforgeError(f"intra-class FID needs at least 2 samples of every class; class {c} has {sel.sum()}")
        per_class.append(fid_from_features(real[real_labels == c], fake[sel]))
    return {"intra_fid": float(np.mean(per_class)), "intra_fid_per_class": per_class}


def class_accuracy(probs: np.ndarray, labels: np.ndarray, num_classes: int = 10) -> dict:
    pred = np.asarray(probs).argmax(1)
    labels = np.asarray(labels)
    per_class = [float((pred[labels == c] == c).mean()) if (labels == c).any() else float("nan")
                 for c in range(num_classes)]
    return {"accuracy": float((pred == labels).mean()), "accuracy_per_class": per_class}


def evaluate_images(images, data: str, metrics: list[str], labels=None, root=None, device="cpu",
                    progress: bool = False, kid_subsets: int = 100, kid_subset_size: int = 1000,
                    dcfg=None, inception_weights=None) -> dict:
    """Metrics of uint8 images (N x C x H x W) against ``data``'s reference split."""
    profile = ImageProfile(data, device, progress, dcfg, inception_weights)
    fake = profile(images)
    out: dict = {}
    if data == "folder":
        out["features"] = profile.extractor.name
        out["reference"] = f"{profile.reference_split} split"
    needs_real = {"fid", "kid", "prdc", "intra_fid"} & set(metrics)
    real, real_labels = reference_features(profile, None, root) if needs_real else (None, None)
    if real is not None and len(real) < 2:
        raise GanforgeError(f"the reference split has {len(real)} image(s); FID/KID/PRDC need more "
                            "(raise data.val_fraction or add images)")
    if "kid" in metrics:
        kid_subset_size = min(kid_subset_size, len(real), len(fake["features"]))
    if "prdc" in metrics and min(len(real), len(fake["features"])) <= 5:
        raise GanforgeError("precision/recall need more than 5 samples and reference images; drop 'prdc' or use more")
    if "fid" in metrics:
        out["fid"] = fid_from_features(real, fake["features"])
    if "kid" in metrics:
        mean, std = kernel_inception_distance(real, fake["features"], num_subsets=kid_subsets,
                                              subset_size=kid_subset_size)
        out["kid_mean"], out["kid_std"] = mean, std
    if "prdc" in metrics:
        out.update(prdc(real, fake["features"], k_pr=3, k_dc=5))
    if "is" in metrics:
        if fake["probs"] is None:
            hint = " without --inception-weights" if data == "folder" else ""
            raise GanforgeError(f"the inception score is not defined for {data}{hint}; drop 'is' from --metrics")
        out["is_mean"], out["is_std"] = inception_score(fake["probs"], splits=min(10, len(fake["probs"])))
    if "modes" in metrics:
        if fake["digits"] is None:
            raise GanforgeError(f"mode counts need stacked_mnist or a toy mixture, not {data}; drop 'modes'")
        stats = stacked_mode_stats(fake["digits"])
        out["modes"], out["kl"] = stats["modes"], stats["kl"]
    if "accuracy" in metrics:
        if labels is None:
            raise GanforgeError("class accuracy needs labelled samples (a conditional run, or an .npz with 'labels')")
        if fake["probs"] is None:
            raise GanforgeError(f"class accuracy is not available for {data}")
        out.update(class_accuracy(fake["probs"], labels))
    if "intra_fid" in metrics:
        if labels is None or data == "stacked_mnist":
            raise GanforgeError("intra-class FID needs labelled samples of mnist or fashion_mnist (a conditional run)")
        out.update(intra_class_fid(real, real_labels, fake["features"], np.asarray(labels)))
    return out


def evaluate_points(points, data: str, metrics: list[str]) -> dict:
    """Mode coverage of 2-D samples of a toy mixture (PacGAN's table 1 statistics)."""
    from ..data.toy import mixture_centers, mixture_std

    unsupported = [m for m in metrics if m != "modes"]
    if unsupported:
        raise GanforgeError(f"toy data ({data}) supports only the 'modes' metric, not {', '.join(unsupported)}")
    stats = toy_mode_stats(np.asarray(points), mixture_centers(data).numpy(), mixture_std(data))
    return {"modes": stats["modes"], "num_modes": len(mixture_centers(data)),
            "high_quality": stats["high_quality"], "reverse_kl": stats["reverse_kl"]}


def evaluate_samples(samples: dict, data: str, metrics: list[str], **kw) -> dict:
    """``samples`` holds 'images' (uint8) or 'points', optionally 'labels'."""
    start = time.perf_counter()
    if data in TOY_SETS:
        if "points" not in samples:
            raise GanforgeError(f"{data} samples must be 2-D points (key 'points')")
        out = evaluate_points(samples["points"], data, metrics)
        n = len(samples["points"])
    else:
        if "images" not in samples:
            raise GanforgeError(f"{data} samples must be images (key 'images', N x C x H x W uint8)")
        out = evaluate_images(samples["images"], data, metrics, samples.get("labels"), **kw)
        n = len(samples["images"])
    return {"data": data, "n": n, **out, "seconds": round(time.perf_counter() - start, 2)}
