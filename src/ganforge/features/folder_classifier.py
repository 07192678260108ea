"""A labelled image folder's own classifier: the domain feature space of ``eval.features`` / ``--features``.

:class:`FolderClassifier` reads 3-channel images of any side (in [-1, 1]): four conv stages (32, 64,
128, 128 channels; batch norm, ReLU; 2x2 max pooling between them), global average pooling, a
128-d linear layer (the features of FID/KID/PRDC), then the K class logits (class accuracy, IS).
``ganforge train-classifier --data folder`` (:mod:`ganforge.training.folder_classifier`) writes
its weights ``FILE.pt`` and the card ``FILE.json`` beside them: held-out accuracy, sha256, image
size, channels, class names, the folder's fingerprint. :func:`load_folder_classifier` refuses
weights whose sha256 is not the card's, and images of another size or channel count.
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

FEATURE_DIM = 128
WIDTHS = (32, 64, 128, 128)
CARD_KEYS = ("sha256", "size", "channels", "class_names", "feature_scale")


def _stage(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class FolderClassifier(nn.Module):
    """conv32-pool-conv64-pool-conv128-pool-conv128 -> global average pool -> fc128 (features) -> ReLU -> fcK.

    Input: B x ``channels`` x S x S in [-1, 1], any S >= 8 (~260k parameters).
    """

    def __init__(self, num_classes: int, channels: int = 3):
        super().__init__()
        layers: list[nn.Module] = []
        cin = channels
        for i, w in enumerate(WIDTHS):
            layers += _stage(cin, w) + ([nn.MaxPool2d(2)] if i < len(WIDTHS) - 1 else [])
            cin = w
        self.body = nn.Sequential(*layers)
        self.fc = nn.Linear(cin, FEATURE_DIM)
        self.dropout = nn.Dropout(0.3)
        self.head = nn.Linear(FEATURE_DIM, num_classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(features B x 128, logits B x K)."""
        feats = self.fc(self.body(x).mean(dim=(2, 3)))
        return feats, self.head(self.dropout(F.relu(feats)))


class FolderClassifierExtractor(Extractor):
    """A folder classifier on uint8 images of its own size and channel count."""

    size = 0
    channels = 3

    def _prepare(self, x: torch.Tensor) -> torch.Tensor:
        want = (self.channels, self.size, self.size)
        if tuple(x.shape[1:]) != want:
            raise GanforgeError(f"the folder classifier reads {' x '.join(map(str, want))} images, got "
                                f"{' x '.join(map(str, x.shape[1:]))}")
        return to_unit(x.to(self.device))


def card_path(weights) -> Path:
    """The card of a classifier file: ``FILE.json`` beside ``FILE.pt``."""
    return Path(weights).expanduser().with_suffix(".json")


def _how_to_make(path) -> str:
    return f"make one with: ganforge train-classifier --data folder --data-path DIR --out {path}"


def read_card(weights) -> dict:
    """The card of classifier file ``weights`` (no network is loaded), or a one-line error."""
    path = Path(weights).expanduser()
    if not path.is_file():
        raise GanforgeError(f"folder classifier {path}: no such file; {_how_to_make(path)}")
    card = card_path(path)
    if not card.is_file():
        raise GanforgeError(f"folder classifier {path} has no card {card.name} beside it (its sha256, size and classes); "
                            f"keep the two files together or {_how_to_make(path)}")
    try:
        doc = json.loads(card.read_text())
    except (ValueError, UnicodeDecodeError):
        doc = None
    missing = [k for k in CARD_KEYS if not isinstance(doc, dict) or k not in doc]
    if missing:
        raise GanforgeError(f"classifier card {card} is not a folder classifier's card (it lacks {', '.join(missing)}); "
                            f"{_how_to_make(path)}")
    return doc


def check_card_fits(weights, card: dict, size: int, channels: int = 3) -> None:
    """One line when the classifier reads images of another size or channel count than the run's."""
    if int(card["channels"]) != channels:
        raise GanforgeError(f"folder classifier {weights} reads {card['channels']}-channel images; this run's have "
                            f"{channels}: train one on this folder with ganforge train-classifier --data folder")
    if int(card["size"]) != int(size):
        raise GanforgeError(f"folder classifier {weights} reads {card['size']} px images; this run's are {size} px "
                            f"(data.size): train one with ganforge train-classifier --data folder --size {size}")


def load_folder_classifier(weights, device="cpu", size: int | None = None, channels: int = 3,
                           **_) -> FolderClassifierExtractor:
    """The extractor of classifier file ``weights``: its sha256 checked against its card, and (given
    ``size``) the card's image size and channels against the run's."""
    if weights is None or not str(weights).strip():
        raise GanforgeError(f"no folder classifier given; {_how_to_make('FILE.pt')}, then pass --features FILE.pt")
    path = Path(weights).expanduser()
    card = read_card(path)
    if size is not None:
        check_card_fits(path, card, size, channels)
    sha = file_sha256(path)
    if sha != card["sha256"]:
        raise GanforgeError(f"folder classifier {path} has sha256 {sha[:16]}..., its card {card_path(path).name} says "
                            f"{str(card['sha256'])[:16]}...; the file changed after training: restore it or "
                            "train again with ganforge train-classifier --data folder")
    net = FolderClassifier(len(card["class_names"]), int(card["channels"]))
    try:
        net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    except Exception as exc:  # pickle, zip and shape errors alike
        raise GanforgeError(f"folder classifier {path} does not hold this classifier's weights "
                            f"({' '.join(str(exc).split())[:120]}); train again with ganforge train-classifier") from None
    ext = FolderClassifierExtractor(net, device, batch_size=256, scale=float(card["feature_scale"]))
    ext.name, ext.sha256 = "folder_classifier", sha
    ext.size, ext.channels = int(card["size"]), int(card["channels"])
    return ext
