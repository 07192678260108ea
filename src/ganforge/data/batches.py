"""Batch sources: in-memory image tensors sliced by a per-epoch permutation, and toy samplers.

No per-item ``Dataset.__getitem__``, no worker processes: an MNIST-size data set is one uint8
tensor (on the training device), and a batch is ``images[perm[i:i+B]]`` scaled to [-1, 1].
Every source can save and restore its position, so a resumed run sees exactly the batches
that an uninterrupted run would have seen.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class DataInfo:
    kind: str  # "image" or "points"
    shape: tuple[int, ...]  # one sample: (C, H, W) or (2,)
    num_classes: int = 0
    name: str = ""
    centers: torch.Tensor | None = None  # toy mixtures: the true mode centres
    std: float = 0.0  # toy mixtures: the std of each mode


def _epoch_generator(seed: int, epoch: int) -> torch.Generator:
    g = torch.Generator()
    g.manual_seed((seed * 1_000_003 + epoch) % (2**63))
    return g


class InMemoryBatches:
    """Batches of ``images`` (N x C x H x W uint8) in [-1, 1], one permutation per epoch.

    The images live on ``device`` (the training device by default: one upload, then batches are
    sliced on the GPU). With ``target`` a CUDA device and the images kept on the host
    (``data.device=cpu``, e.g. an image folder too large for GPU memory), they sit in pinned memory
    and each uint8 batch is uploaded asynchronously.
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor | None, batch_size: int, seed: int,
                 info: DataInfo, device: torch.device | str = "cpu"):
        if images.dtype != torch.uint8 or images.dim() != 4:
            raise ValueError("images must be an N x C x H x W uint8 tensor")
        if len(images) < batch_size:
            from ..errors import GanforgeError

            raise GanforgeError(f"data set has {len(images)} images, fewer than data.batch_size={batch_size}")
        self.device = self.target = torch.device(device)
        self.images = images.to(self.device)
        self.labels = labels.to(self.device) if labels is not None else None
        self.pinned = False
        self.batch_size = batch_size
        self.seed = seed
        self.info = info
        self.batches_per_epoch = len(images) // batch_size  # the last partial batch is dropped
        self.epoch = 0
        self.index = 0  # next batch within the epoch
        self._perm = self._permutation(0)
        self.part = slice(None)  # this rank's part of each (global) batch; see shard()

    def shard(self, part: slice) -> None:
        """Return only ``part`` of every global batch (data-parallel ranks: disjoint slices)."""
        self.part = part

    def send_to(self, target: torch.device | str) -> None:
        """Batches go to ``target`` (the training device) while the images stay where they are."""
        self.target = torch.device(target)
        self.pinned = self.device.type == "cpu" and self.target.type == "cuda"
        if self.pinned:
            self.images = self.images.pin_memory()

    def _permutation(self, epoch: int) -> torch.Tensor:
        return torch.randperm(len(self.images), generator=_epoch_generator(self.seed, epoch)).to(self.device)

    def next(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self.index >= self.batches_per_epoch:
            self.epoch += 1
            self.index = 0
            self._perm = self._permutation(self.epoch)
        idx = self._perm[self.index * self.batch_size:(self.index + 1) * self.batch_size][self.part]
        self.index += 1
        x = self.images[idx]
        y = self.labels[idx] if self.labels is not None else None
        if self.pinned:  # uint8 over the bus (4x less than float), without waiting for it
            x = x.pin_memory().to(self.target, non_blocking=True)
            y = y.to(self.target, non_blocking=True) if y is not None else None
        elif self.target != self.device:
            x, y = x.to(self.target), (y.to(self.target) if y is not None else None)
        return x.float().div_(127.5).sub_(1.0), y

    @property
    def progress(self) -> float:
        """Epochs completed, as a float."""
        return self.epoch + self.index / self.batches_per_epoch

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "index": self.index}

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.index = int(state["epoch"]), int(state["index"])
        self._perm = self._permutation(self.epoch)


class ToyBatches:
    """Fresh samples of a Gaussian mixture (1-D or 2-D) each batch (an infinite data set).

    An "epoch" is ``epoch_size`` points, so that epoch-based schedules still apply.
    """

    def __init__(self, centers: torch.Tensor, std: float, batch_size: int, seed: int, info: DataInfo,
                 epoch_size: int = 100_000, device: torch.device | str = "cpu"):
        self.device = torch.device(device)
        self.centers = centers.float()
        self.std = float(std)
        self.batch_size = batch_size
        self.info = info
        self.batches_per_epoch = max(1, epoch_size // batch_size)
        self.generator = torch.Generator()
        self.generator.manual_seed(seed)
        self.epoch = 0
        self.index = 0
        self.part = slice(None)

    def shard(self, part: slice) -> None:
        """Return only ``part`` of every global batch (the whole batch is drawn, so all ranks agree)."""
        self.part = part

    def send_to(self, target: torch.device | str) -> None:
        self.device = torch.device(target)

    def sample(self, n: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        g = generator if generator is not None else self.generator
        modes = torch.randint(len(self.centers), (n,), generator=g)
        pts = self.centers[modes] + self.std * torch.randn(n, self.centers.shape[1], generator=g)
        return pts, modes

    def next(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self.index >= self.batches_per_epoch:
            self.epoch += 1
            self.index = 0
        self.index += 1
        pts, _ = self.sample(self.batch_size)
        return pts[self.part].to(self.device), None

    @property
    def progress(self) -> float:
        return self.epoch + self.index / self.batches_per_epoch

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "index": self.index, "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.index = int(state["epoch"]), int(state["index"])
        self.generator.set_state(state["generator"])
