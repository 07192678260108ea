"""The extractor interface: uint8 images in, (features, class probabilities) out, batched, no grad."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..errors import GanforgeError
from ..files import file_sha256  # noqa: F401  (imported from here by the feature modules and tests)


class Extractor:
    """Batched, no-grad wrapper around a network returning (features, logits); a network without
    classes returns (features, None), and the extractor then gives None for the probabilities.

    ``name`` and ``sha256`` identify the network (they key the cached reference statistics);
    ``scale`` is a fixed constant the features are multiplied by.
    """

    name = ""
    sha256 = ""

    def __init__(self, net: torch.nn.Module, device="cpu", batch_size: int = 500, scale: float = 1.0):
        self.net = net.eval().to(device)
        self.scale = scale
        self.device = torch.device(device)
        self.batch_size = batch_size

    def _prepare(self, x: torch.Tensor) -> torch.Tensor:
        return x.to(self.device)

    @torch.no_grad()
    def __call__(self, images, progress: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
        """(features N x D float64, class probabilities N x K float64 or None) of uint8 images."""
        images = torch.as_tensor(images)
        if images.dtype != torch.uint8 or images.dim() != 4 or len(images) == 0:
            raise GanforgeError(f"{self.name} expects N x C x H x W uint8 images (N >= 1), "
                                f"got {tuple(images.shape)} {images.dtype}")
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
