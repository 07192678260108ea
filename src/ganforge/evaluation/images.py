"""Metrics of images: featurise the samples, fetch the reference split's features, compute.

Which network gives the features is the data set's choice (``EvalSpec.extractor`` in
``ganforge.data``): the shipped classifier for MNIST-like data (one channel at a time for
Stacked MNIST); for an image folder its own classifier when one is given (``eval.features``,
:mod:`ganforge.features.folder_classifier`), else the FID Inception-v3 when its weights file is
given, else area-downsampled pixels (classifier-free; see :func:`ganforge.features.pixel_extractor`).
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import GanforgeError
from ..features import EXTRACTORS
from .catalog import METRICS, MetricInputs, check_counts, compute_metrics, eval_spec
from .reference import reference_features, train_labels


class ImageProfile:
    """How to featurise one image data set: its extractor, and per-channel handling for Stacked MNIST.

    Image folders (``data="folder"``) need ``dcfg`` (path, size, val_fraction), the run's data config.
    """

    def __init__(self, data: str, device="cpu", progress: bool = False, dcfg=None, inception_weights=None,
                 features=None):
        self.data, self.dcfg, self.progress = data, dcfg, progress
        self.spec = eval_spec(data)
        if self.spec.kind == "folder":
            if dcfg is None or not dcfg.path:
                raise GanforgeError("evaluating image-folder samples needs the run's data config "
                                    "(evaluate the run directory, not a bare .npz)")
            name = "folder_classifier" if features else "inception" if inception_weights else "pixels"
            self.extractor = EXTRACTORS.get(name)(device=device, weights=features or inception_weights, size=dcfg.size)
        elif self.spec.kind == "image":
            self.extractor = EXTRACTORS.get(self.spec.extractor)(device=device)
        else:
            raise GanforgeError(f"{data} samples are points, not images; there is no image evaluation for it")

    @property
    def key(self) -> str:
        return f"{self.extractor.name}-{self.extractor.sha256[:16]}-s{self.extractor.scale:.6g}"

    @property
    def reference_split(self) -> str:
        """The split samples are compared with: the test split, or a folder's held-out images."""
        if self.spec.kind == "folder":
            return "val" if self.dcfg.val_held > 0 else "all"
        return "test"

    @property
    def reference_name(self) -> str:
        if self.spec.kind == "folder":
            from ..data.folder import folder_id, labels_key

            labels = labels_key(self.dcfg.path, self.dcfg.labels)  # labelled references hold their labels too
            return (f"folder-{folder_id(self.dcfg.path, self.dcfg.size)}-{self.dcfg.size}px-v{self.dcfg.val_held:g}"
                    + (f"-L{labels}" if labels else ""))
        return self.data

    def __call__(self, images) -> dict:
        """{'features', 'probs' (None when there are no classes), 'digits' (per-channel sets only: N x C)}."""
        images = torch.as_tensor(np.asarray(images))
        if self.spec.per_channel:
            feats, digits = [], []
            for c in range(images.shape[1]):
                f, p = self.extractor(images[:, c:c + 1].contiguous(), progress=self.progress)
                feats.append(f)
                digits.append(p.argmax(1))
            return {"features": np.concatenate(feats, 1), "probs": None, "digits": np.stack(digits, 1)}
        feats, probs = self.extractor(images, progress=self.progress)
        return {"features": feats, "probs": probs, "digits": None}


def evaluate_images(images, data: str, metrics: list[str], labels=None, root=None, device="cpu",
                    progress: bool = False, kid_subsets: int = 100, kid_subset_size: int = 1000,
                    dcfg=None, inception_weights=None, discriminator: dict | None = None, features=None) -> dict:
    """Metrics of uint8 images (N x C x H x W) against ``data``'s reference split.

    ``metrics`` are taken as checked (:func:`~ganforge.evaluation.catalog.validate_metrics`);
    :func:`~ganforge.evaluation.samples.evaluate_samples` checks names and images first.
    """
    profile = ImageProfile(data, device, progress, dcfg, inception_weights, features)
    fake = profile(images)
    out: dict = {}
    if profile.spec.kind == "folder":
        out["features"] = profile.extractor.name
        if features:
            out["features_file"] = str(features)
        out["reference"] = f"{profile.reference_split} split"
    inputs = MetricInputs(data, len(fake["features"]), features=fake["features"], probs=fake["probs"],
                          digits=fake["digits"], labels=None if labels is None else np.asarray(labels),
                          kid_subsets=kid_subsets, kid_subset_size=kid_subset_size)
    compared = [m for m in metrics if "features" in METRICS.get(m).needs]
    if compared:
        inputs.real, inputs.real_labels = reference_features(profile, None, root)
        check_counts(compared, len(inputs.real), "reference images",
                     "raise data.val_fraction or add images" if profile.spec.kind == "folder" else "check the data")
    if discriminator is not None:  # a run's D on training, held-out and generated images (metric 'age')
        inputs.d_train, inputs.d_heldout, inputs.d_fake = (discriminator[k] for k in ("d_train", "d_heldout", "d_fake"))
    if "class_freq" in metrics:
        inputs.train_labels = train_labels(data, root, dcfg)
    out.update(compute_metrics(metrics, inputs))
    return out
