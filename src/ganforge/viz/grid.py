"""Image grids with PIL (no torchvision)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """Samples in [-1, 1] (B x C x H x W float) -> uint8 in [0, 255]."""
    return ((x.detach().float().cpu().clamp(-1, 1) + 1.0) * 127.5).round().to(torch.uint8)


def make_grid(images: torch.Tensor | np.ndarray, nrow: int | None = None, padding: int = 2,
              pad_value: int = 0, scale: int = 1) -> Image.Image:
    """Tile uint8 images (N x C x H x W, C in {1, 3}) into one PIL image, ``nrow`` per row."""
    arr = np.asarray(images)
    if arr.dtype != np.uint8 or arr.ndim != 4 or arr.shape[1] not in (1, 3):
        raise ValueError("make_grid expects an N x C x H x W uint8 array with C = 1 or 3")
    n, c, h, w = arr.shape
    nrow = nrow or max(1, int(math.ceil(math.sqrt(n))))
    rows = int(math.ceil(n / nrow))
    grid = np.full((rows * (h + padding) + padding, nrow * (w + padding) + padding, c), pad_value, np.uint8)
    for i in range(n):
        r, col = divmod(i, nrow)
        y, x = padding + r * (h + padding), padding + col * (w + padding)
        grid[y:y + h, x:x + w] = arr[i].transpose(1, 2, 0)
    img = Image.fromarray(grid[:, :, 0] if c == 1 else grid, mode="L" if c == 1 else "RGB")
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    return img


def save_grid(images, path: str | Path, nrow: int | None = None, scale: int = 2) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    make_grid(images, nrow=nrow, scale=scale).save(path)
    return path
