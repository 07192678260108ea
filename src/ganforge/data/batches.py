"""Batch sources: in-memory image tensors sliced by a per-epoch permutation, and toy samplers.

No per-item ``Dataset.__getitem__``, no worker processes: an MNIST-size data set is one uint8
tensor (on the training device), and a batch is ``images[perm[i:i+B]]`` scaled to [-1, 1].
Every source can save and restore its position, so a resumed run sees exactly the batches
that an uninterrupted run would have seen.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch


@dataclass
class DataInfo:
    kind: str  # "image" or "points"
    shape: tuple[int, ...]  # one sample: (C, H, W) or (2,)
    num_classes: int = 0
    name: str = ""
    centers: torch.Tensor | None = None  # toy mixtures: the true mode centres
    std: float = 0.0  # toy mixtures: the std of each mode
    class_names: tuple[str, ...] = ()  # a labelled image folder's classes (index i is class_names[i])


def to_unit(images: torch.Tensor) -> torch.Tensor:
    """uint8 images -> a new float tensor in [-1, 1], the data range of every generator."""
    return images.float().div_(127.5).sub_(1.0)


UNLABELLED = -1  # the label of a real image whose label is hidden (semi-supervised batches)


def take_per_class(x: torch.Tensor, labels: torch.Tensor, per_class: int,
                   generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``per_class`` random rows of ``x`` of every class in ``labels`` (class order, then draw order)."""
    from ..errors import GanforgeError

    picks = []
    for c in torch.unique(labels).tolist():
        idx = torch.nonzero(labels == c).flatten()
        if len(idx) < per_class:
            raise GanforgeError(f"data.labels_per_class={per_class}, but class {c} has only {len(idx)} examples")
        picks.append(idx[torch.randperm(len(idx), generator=generator)[:per_class]])
    pick = torch.cat(picks)
    return x[pick], labels[pick]


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

    def relabel(self, labels: torch.Tensor, num_classes: int) -> None:
        """Replace the labels (one per image, in 0..num_classes-1): a self-conditioned GAN's clusters."""
        if labels.shape != (len(self.images),):
            raise ValueError(f"relabel needs {len(self.images)} labels, got shape {tuple(labels.shape)}")
        self.labels = labels.to(self.device)
        self.info = replace(self.info, num_classes=num_classes, class_names=())

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
        return to_unit(x), y

    @property
    def progress(self) -> float:
        """Epochs completed, as a float."""
        return self.epoch + self.index / self.batches_per_epoch

    def labelled_pool(self, per_class: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(images in [-1, 1], labels) of ``per_class`` images of each class, a fixed choice by ``seed``
        (the labelled part of a semi-supervised training; every image stays in the unlabelled part)."""
        if self.labels is None:
            from ..errors import GanforgeError

            raise GanforgeError(f"data.labels_per_class needs a labelled data set; {self.info.name} has no labels")
        g = torch.Generator().manual_seed(seed + 7919)
        x, y = take_per_class(self.images.cpu(), self.labels.cpu(), per_class, g)
        return to_unit(x), y

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
                 epoch_size: int = 100_000, device: torch.device | str = "cpu", classes: torch.Tensor | None = None):
        self.device = torch.device(device)
        self.centers = centers.float()
        self.classes = classes  # class of each mode (labelled mixtures), else None
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
        pts, modes = self.sample(self.batch_size)
        y = self.classes[modes][self.part].to(self.device) if self.classes is not None else None
        return pts[self.part].to(self.device), y

    def labelled_pool(self, per_class: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``per_class`` points of each class, drawn once with ``seed`` (semi-supervised training)."""
        if self.classes is None:
            from ..errors import GanforgeError

            raise GanforgeError(f"data.labels_per_class needs a labelled data set; {self.info.name} has no classes")
        g = torch.Generator().manual_seed(seed + 7919)
        pts, modes = self.sample(200 * per_class * (int(self.classes.max()) + 1), g)
        return take_per_class(pts, self.classes[modes], per_class, g)

    @property
    def progress(self) -> float:
        return self.epoch + self.index / self.batches_per_epoch

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "index": self.index, "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.index = int(state["epoch"]), int(state["index"])
        self.generator.set_state(state["generator"])


class SemiSupervisedBatches:
    """Batches for a semi-supervised GAN (``data.labels_per_class``): each ``next()`` is the base
    source's batch with every label hidden (-1, unlabelled), followed by a batch of the small
    labelled pool, cycled in seeded permutations (the pool is tiled up to a batch when smaller)."""

    def __init__(self, base, pool_x: torch.Tensor, pool_y: torch.Tensor, batch_size: int, seed: int):
        self.base = base
        self.info = base.info
        self.batches_per_epoch = base.batches_per_epoch
        reps = -(-batch_size // len(pool_x))
        self.pool_x = pool_x.repeat(reps, *([1] * (pool_x.dim() - 1)))
        self.pool_y = pool_y.repeat(reps)
        self.pool_size = len(pool_x)
        self.batch_size = batch_size
        self.seed = seed
        self.pool_epoch = 0
        self.pool_index = 0
        self.pool_batches = len(self.pool_x) // batch_size
        self._perm = self._permutation(0)
        self.part = slice(None)

    def _permutation(self, epoch: int) -> torch.Tensor:
        return torch.randperm(len(self.pool_x), generator=_epoch_generator(self.seed + 104_729, epoch))

    def shard(self, part: slice) -> None:
        self.base.shard(part)
        self.part = part

    def send_to(self, target: torch.device | str) -> None:
        self.base.send_to(target)

    def next_labelled(self, device=None) -> tuple[torch.Tensor, torch.Tensor]:
        """The next batch of the labelled pool alone."""
        if self.pool_index >= self.pool_batches:
            self.pool_epoch += 1
            self.pool_index = 0
            self._perm = self._permutation(self.pool_epoch)
        idx = self._perm[self.pool_index * self.batch_size:(self.pool_index + 1) * self.batch_size][self.part]
        self.pool_index += 1
        return self.pool_x[idx].to(device), self.pool_y[idx].to(device)

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        x_u, _ = self.base.next()
        x_l, y_l = self.next_labelled(x_u.device)
        hidden = torch.full((len(x_u),), UNLABELLED, dtype=y_l.dtype, device=x_u.device)
        return torch.cat([x_u, x_l]), torch.cat([hidden, y_l])

    @property
    def progress(self) -> float:
        return self.base.progress

    def state_dict(self) -> dict:
        return {"base": self.base.state_dict(), "pool_epoch": self.pool_epoch, "pool_index": self.pool_index}

    def load_state_dict(self, state: dict) -> None:
        self.base.load_state_dict(state["base"])
        self.pool_epoch, self.pool_index = int(state["pool_epoch"]), int(state["pool_index"])
        self._perm = self._permutation(self.pool_epoch)
