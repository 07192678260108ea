"""Feature extractors by name: what FID/KID/PRDC compare, what IS and class accuracy classify.

An extractor turns uint8 images (N x C x H x W) into features (N x D float) and class
probabilities (N x K). Registered: ``mnist_classifier`` and ``fashion_mnist_classifier``
(shipped weights, verified by sha256) and ``inception`` (the standard FID Inception-v3 from a
weights file the user gives). Others plug in with ``EXTRACTORS.register(name)``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import torch

from ..errors import GanforgeError
from ..registry import Registry

EXTRACTORS: Registry = Registry("feature extractor", "--extractor")


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class Extractor:
    """Batched, no-grad wrapper around a network returning (features, logits); a network without
    classes returns (features, None), and the extractor then gives None for the probabilities."""

    name = ""
    sha256 = ""

    def __init__(self, net: torch.nn.Module, device="cpu", batch_size: int = 500, scale: float = 1.0):
        self.net = net.eval().to(device)
        self.scale = scale  # features are multiplied by this fixed constant
        self.device = torch.device(device)
        self.batch_size = batch_size

    def _prepare(self, x: torch.Tensor) -> torch.Tensor:
        return x.to(self.device)

    @torch.no_grad()
    def __call__(self, images, progress: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
        """(features N x D float64, class probabilities N x K float64 or None) of uint8 images."""
        images = torch.as_tensor(images)
        if images.dtype != torch.uint8 or images.dim() != 4:
            raise GanforgeError(f"{self.name} expects N x C x H x W uint8 images, got {tuple(images.shape)} {images.dtype}")
        feats, probs = [], []
        starts = range(0, len(images), self.batch_size)
        if progress:
            from tqdm import tqdm

            starts = tqdm(starts, desc=f"features ({self.name})", leave=False, unit="batch")
        for i in starts:
            f, logits = self.net(self._prepare(images[i:i + self.batch_size]))
            feats.append(f.double().cpu() * self.scale)
            if logits is not None:
                probs.append(torch.softmax(logits.double(), dim=1).cpu())
        return torch.cat(feats).numpy(), (torch.cat(probs).numpy() if probs else None)


class ClassifierExtractor(Extractor):
    """The shipped 28x28 classifier; 1-channel images only (Stacked MNIST: one channel at a time)."""

    def _prepare(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1:] != (1, 28, 28):
            raise GanforgeError(f"{self.name} expects 1 x 28 x 28 images, got {tuple(x.shape[1:])}")
        return x.to(self.device).float().div_(127.5).sub_(1.0)


def shipped_card(data: str) -> dict:
    from .classifier import WEIGHTS_DIR

    path = WEIGHTS_DIR / f"{data}_classifier.json"
    if not path.is_file():
        raise GanforgeError(f"no shipped classifier for '{data}' ({path} missing); "
                            f"make one with: ganforge train-classifier --data {data}")
    return json.loads(path.read_text())


def load_classifier(data: str, device="cpu") -> ClassifierExtractor:
    from .classifier import WEIGHTS_DIR, DigitClassifier

    card = shipped_card(data)
    weights = WEIGHTS_DIR / f"{data}_classifier.pt"
    sha = file_sha256(weights) if weights.is_file() else "missing"
    if sha != card["sha256"]:
        raise GanforgeError(f"classifier weights {weights} have sha256 {sha[:16]}..., the card says "
                            f"{card['sha256'][:16]}...; reinstall ganforge or re-run ganforge train-classifier")
    net = DigitClassifier()
    net.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    ext = ClassifierExtractor(net, device, scale=card.get("feature_scale", 1.0))
    ext.name, ext.sha256 = f"{data}_classifier", sha
    return ext


class _PixelNet(torch.nn.Module):
    """Images -> area-downsampled pixels in [0, 1] (side x side x C values); no classes."""

    def __init__(self, side: int = 16):
        super().__init__()
        self.side = side

    def forward(self, x: torch.Tensor):
        x = torch.nn.functional.adaptive_avg_pool2d(x.float() / 255.0, self.side)
        return x.flatten(1), None


def pixel_extractor(side: int = 16, device="cpu") -> Extractor:
    """Classifier-free features for any images: pixels after an area downsampling to ``side`` x ``side``.

    FID/KID/PRDC in this space measure colour and layout statistics only; they are a sanity check
    for image folders without Inception weights and are not comparable to published FIDs.
    """
    ext = Extractor(_PixelNet(side), device)
    ext.name, ext.sha256 = f"pixels{side}", f"pixels{side}"
    return ext


EXTRACTORS.register("pixels")(lambda device="cpu", **_: pixel_extractor(16, device))
EXTRACTORS.register("mnist_classifier")(lambda device="cpu", **_: load_classifier("mnist", device))
EXTRACTORS.register("fashion_mnist_classifier")(lambda device="cpu", **_: load_classifier("fashion_mnist", device))

from . import inception as _inception  # noqa: E402,F401  (registers "inception"; imports this module's names)
