"""Feature networks by name: what FID/KID/PRDC compare, what IS and class accuracy classify.

An extractor turns uint8 images (N x C x H x W) into features (N x D float64) and class
probabilities (N x K, or None for a network without classes). All are registered here, in one
place:

- ``mnist_classifier``, ``fashion_mnist_classifier``: the shipped 28x28 classifiers
  (:mod:`.classifier`; weights in ``ganforge/weights/``, verified by sha256);
- ``inception``: the standard FID Inception-v3 from a weights file the user gives (:mod:`.inception`);
- ``folder_classifier``: a labelled image folder's own classifier from a file the user made with
  ``ganforge train-classifier --data folder`` (:mod:`.folder_classifier`);
- ``pixels``: area-downsampled pixels, classifier-free (:mod:`.pixels`).

Each factory is called as ``EXTRACTORS.get(name)(device=..., weights=...)``; others plug in with
``EXTRACTORS.register(name)``. The metrics themselves (:mod:`ganforge.metrics`) never see a network.
"""

from __future__ import annotations

from ..registry import Registry
from .base import Extractor, file_sha256
from .classifier import WEIGHTS_DIR, ClassifierExtractor, DigitClassifier, load_classifier, shipped_card
from .folder_classifier import FolderClassifier, load_folder_classifier, read_card
from .inception import FIDInceptionV3, InceptionExtractor, load_fid_inception
from .pixels import pixel_extractor

EXTRACTORS: Registry = Registry("feature extractor", "--extractor")

EXTRACTORS.register("mnist_classifier")(lambda device="cpu", **_: load_classifier("mnist", device))
EXTRACTORS.register("fashion_mnist_classifier")(lambda device="cpu", **_: load_classifier("fashion_mnist", device))
EXTRACTORS.register("inception")(lambda device="cpu", weights=None, **_: load_fid_inception(weights, device))
EXTRACTORS.register("folder_classifier")(
    lambda device="cpu", weights=None, size=None, **_: load_folder_classifier(weights, device, size=size))
EXTRACTORS.register("pixels")(lambda device="cpu", **_: pixel_extractor(16, device))

__all__ = [
    "EXTRACTORS",
    "Extractor",
    "file_sha256",
    "WEIGHTS_DIR",
    "DigitClassifier",
    "ClassifierExtractor",
    "shipped_card",
    "load_classifier",
    "FolderClassifier",
    "load_folder_classifier",
    "read_card",
    "FIDInceptionV3",
    "InceptionExtractor",
    "load_fid_inception",
    "pixel_extractor",
]
