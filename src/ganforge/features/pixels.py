"""Classifier-free features for any images: pixels after an area downsampling."""

from __future__ import annotations

import torch

from .base import Extractor


class _PixelNet(torch.nn.Module):
    """Images -> area-downsampled pixels in [0, 1] (side x side x C values); no classes."""

    def __init__(self, side: int = 16):
        super().__init__()
        self.side = side

    def forward(self, x: torch.Tensor):
        x = torch.nn.functional.adaptive_avg_pool2d(x.float() / 255.0, self.side)
        return x.flatten(1), None


def pixel_extractor(side: int = 16, device="cpu") -> Extractor:
    """Pixels after an area downsampling to ``side`` x ``side``.

    FID/KID/PRDC in this space measure colour and layout statistics only; they are a sanity check
    for image folders without Inception weights and are not comparable to published FIDs.
    """
    ext = Extractor(_PixelNet(side), device)
    ext.name, ext.sha256 = f"pixels{side}", f"pixels{side}"
    return ext
