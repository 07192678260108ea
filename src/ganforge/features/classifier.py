"""The shipped 28x28 classifier: the feature network for MNIST and Fashion-MNIST metrics (FID, KID,
PRDC on its 128-d penultimate layer; IS and class accuracy on its softmax; Stacked MNIST mode
counts on its prediction for each channel).

The weights ship inside the package (``ganforge/weights/<data>_classifier.pt``) with a JSON card
(test accuracy, seed, epochs, feature scale, sha256); :func:`load_classifier` checks the sha256.
They are made by ``ganforge train-classifier --data <data>`` (:mod:`ganforge.training.classifier`).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..data.batches import to_unit
from ..errors import GanforgeError
from .base import Extractor, file_sha256

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"
FEATURE_DIM = 128


def _block(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class DigitClassifier(nn.Module):
    """conv32-conv32-pool-conv64-conv64-pool-pool -> fc128 (features) -> ReLU -> fc10.

    Input: B x 1 x 28 x 28 in [-1, 1] (the GAN output range). ~140k parameters.
    """

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.body = nn.Sequential(*_block(1, 32), *_block(32, 32), nn.MaxPool2d(2),
                                  *_block(32, 64), *_block(64, 64), nn.MaxPool2d(2), nn.MaxPool2d(2))
        self.fc = nn.Linear(64 * 3 * 3, FEATURE_DIM)
        self.dropout = nn.Dropout(0.3)
        self.head = nn.Linear(FEATURE_DIM, num_classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(features B x 128, logits B x 10)."""
        feats = self.fc(self.body(x).flatten(1))
        return feats, self.head(self.dropout(F.relu(feats)))


class ClassifierExtractor(Extractor):
    """The shipped 28x28 classifier; 1-channel images only (Stacked MNIST: one channel at a time)."""

    def _prepare(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1:] != (1, 28, 28):
            raise GanforgeError(f"{self.name} expects 1 x 28 x 28 images, got {tuple(x.shape[1:])}")
        return to_unit(x.to(self.device))


def shipped_card(data: str) -> dict:
    path = WEIGHTS_DIR / f"{data}_classifier.json"
    if not path.is_file():
        raise GanforgeError(f"no shipped classifier for '{data}' ({path} missing); "
                            f"make one with: ganforge train-classifier --data {data}")
    return json.loads(path.read_text())


def load_classifier(data: str, device="cpu") -> ClassifierExtractor:
    """The shipped classifier of ``data`` (mnist | fashion_mnist), its weights checked against the card's sha256."""
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
