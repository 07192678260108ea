"""Image grids with PIL (no torchvision)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """Samples in [-1, 1] (B x C x H x W float) -> uint8 in [0, 255]."""
    return ((x.detach().float().cpu().clamp(-1, 1) + 1.0) * 127.5).round().to(torch.uint8)


def make_grid(images: torch.Tensor | np.ndarray, nrow: int | None = None, padding: int = 2,
              pad_value: int = 0, scale: int = 1, row_titles: Sequence[str] | None = None,
              col_titles: Sequence[str] | None = None) -> Image.Image:
    """Tile uint8 images (N x C x H x W, C in {1, 3}) into one PIL image, ``nrow`` per row;
    ``row_titles`` (one per row) are written in a margin on the left, ``col_titles`` (one per column)
    in a margin on top, e.g. a labelled folder's class names."""
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
    if row_titles or col_titles:
        img = _titled(img, row_titles, col_titles, (h + padding) * scale, (w + padding) * scale, padding * scale)
    return img


def _titled(img: Image.Image, row_titles, col_titles, cell_h: int, cell_w: int, pad: int) -> Image.Image:
    """``img`` with its rows' titles in a left margin and its columns' titles in a top margin."""
    size = max(10, min(16, cell_h // 3))
    font = ImageFont.load_default(size=size)
    rows, cols = list(row_titles or []), list(col_titles or [])

    def width(text: str) -> int:
        box = font.getbbox(text)
        return box[2] - box[0]

    left = max((width(t) for t in rows), default=0) + (2 * pad + 4 if rows else 0)
    top = size + 2 * pad + 2 if cols else 0
    out = Image.new(img.mode, (img.width + left, img.height + top), 0)
    out.paste(img, (left, top))
    draw = ImageDraw.Draw(out)
    ink = 255 if img.mode == "L" else (255, 255, 255)
    for r, text in enumerate(rows):
        y = top + pad + r * cell_h + (cell_h - pad) // 2
        draw.text((left - pad - 2, y), text, fill=ink, font=font, anchor="rm")
    for c, text in enumerate(cols):
        x = left + pad + c * cell_w + (cell_w - pad) // 2
        draw.text((x, top - pad), text, fill=ink, font=font, anchor="md")
    return out


def save_grid(images, path: str | Path, nrow: int | None = None, scale: int = 2,
              row_titles: Sequence[str] | None = None, col_titles: Sequence[str] | None = None) -> Path:
    """``make_grid`` written to ``path`` (its folder made)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    make_grid(images, nrow=nrow, scale=scale, row_titles=row_titles, col_titles=col_titles).save(path)
    return path
