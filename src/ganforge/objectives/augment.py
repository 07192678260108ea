"""Differentiable augmentation of D's inputs (DiffAugment, Zhao et al. 2020; ADA, Karras et al. 2020).

The same random transformations are applied to real and fake images in the D step and to fake
images in the G step, and they are differentiable, so G's gradients pass through them: D never
sees an un-augmented image and cannot memorise the training set, which matters most for small
image folders. Each augmentation is applied to each image with probability ``p``:

- ``translation``: integer shift by up to 1/8 of the size, zero fill;
- ``cutout``: a zeroed square of half the size at a random place;
- ``color``: random brightness, saturation and contrast.

``p`` is fixed (``loss.augment_p``) or adaptive (``loss.augment_target`` > 0): StyleGAN2-ADA's
overfitting heuristic r_t = E[sign(D(x_real))] is measured over every 4 D steps and p moves up
when r_t is above the target (0.6 in the paper), down when below, by (images in the interval) /
(``loss.augment_kimg`` * 1000). The global torch RNG draws the transformations (saved with a run).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..registry import Registry

AUGMENTS: Registry = Registry("augmentation", "loss.augment")


@AUGMENTS.register("color")
def color(x: torch.Tensor) -> torch.Tensor:
    n = x.shape[0]
    x = x + (torch.rand(n, 1, 1, 1, device=x.device, dtype=x.dtype) - 0.5)  # brightness
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (torch.rand(n, 1, 1, 1, device=x.device, dtype=x.dtype) * 2) + mean  # saturation
    mean = x.mean(dim=[1, 2, 3], keepdim=True)
    return (x - mean) * (torch.rand(n, 1, 1, 1, device=x.device, dtype=x.dtype) + 0.5) + mean  # contrast


@AUGMENTS.register("translation")
def translation(x: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
    n, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    ty = torch.randint(-sh, sh + 1, (n, 1, 1), device=x.device)
    tx = torch.randint(-sw, sw + 1, (n, 1, 1), device=x.device)
    gy, gx = torch.meshgrid(torch.arange(h, device=x.device), torch.arange(w, device=x.device), indexing="ij")
    gy = torch.clamp(gy[None] + ty + 1, 0, h + 1)  # +1: the zero border added by the padding
    gx = torch.clamp(gx[None] + tx + 1, 0, w + 1)
    padded = F.pad(x, [1, 1, 1, 1]).permute(0, 2, 3, 1)  # N x (H+2) x (W+2) x C
    return padded[torch.arange(n, device=x.device)[:, None, None], gy, gx].permute(0, 3, 1, 2)


@AUGMENTS.register("cutout")
def cutout(x: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    oy = torch.randint(0, h + (1 - ch % 2), (n, 1, 1), device=x.device)
    ox = torch.randint(0, w + (1 - cw % 2), (n, 1, 1), device=x.device)
    gy, gx = torch.meshgrid(torch.arange(h, device=x.device), torch.arange(w, device=x.device), indexing="ij")
    dy, dx = gy[None] - oy + ch // 2, gx[None] - ox + cw // 2  # position inside the square
    inside = (dy >= 0) & (dy < ch) & (dx >= 0) & (dx < cw)
    return x * (~inside).unsqueeze(1).to(x.dtype)


class Augment:
    """The augmentation pipeline a config asks for, with a fixed or adaptive probability."""

    INTERVAL = 4  # D steps between adjustments of an adaptive p

    def __init__(self, names: list[str], p: float = 1.0, target: float = 0.0, kimg: float = 100.0):
        self.names = list(names)
        self.fns = [AUGMENTS.get(name) for name in self.names]
        self.p = float(p)
        self.target = float(target)
        self.kimg = float(kimg)
        self._sign_sum = 0.0
        self._sign_n = 0
        self._images = 0
        self.rt = float("nan")  # the last measured r_t

    @property
    def adaptive(self) -> bool:
        return self.target > 0

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` with each augmentation applied to each image with probability p (differentiable)."""
        if self.p <= 0 or x.dim() != 4:
            return x
        for fn in self.fns:
            if self.p >= 1:
                x = fn(x)
            else:
                keep = (torch.rand(x.shape[0], 1, 1, 1, device=x.device) >= self.p).to(x.dtype)
                x = keep * x + (1 - keep) * fn(x)
        return x

    def observe(self, real_logits: torch.Tensor, world: int = 1) -> None:
        """Adaptive p: collect sign(D(x_real)) and adjust p every INTERVAL D steps. ``world``
        processes see as many images each."""
        if not self.adaptive:
            return
        self._sign_sum = self._sign_sum + torch.sign(real_logits.detach().float()).sum()
        self._sign_n += real_logits.numel()
        self._images += real_logits.shape[0] * world
        if self._sign_n >= self.INTERVAL * real_logits.numel():  # the host reads the sum only here
            self.rt = float(self._sign_sum) / self._sign_n
            step = self._images / (self.kimg * 1000.0)
            self.p = min(1.0, max(0.0, self.p + (step if self.rt > self.target else -step)))
            self._sign_sum, self._sign_n, self._images = 0.0, 0, 0

    def state_dict(self) -> dict:
        return {"p": self.p, "sign_sum": float(self._sign_sum), "sign_n": self._sign_n, "images": self._images,
                "rt": self.rt}

    def load_state_dict(self, state: dict | None) -> None:
        if state:
            self.p, self._sign_sum = float(state["p"]), float(state["sign_sum"])
            self._sign_n, self._images, self.rt = int(state["sign_n"]), int(state["images"]), float(state["rt"])
