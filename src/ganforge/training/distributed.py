"""Data-parallel training with PyTorch's own engine: ``torchrun`` starts one process per device.

    torchrun --standalone --nproc_per_node 2 -m ganforge train configs/dcgan_mnist.toml
    torchrun --nnodes 2 --node_rank 0 --rdzv_backend c10d --rdzv_endpoint HOST:29500 \\
             --nproc_per_node 8 -m ganforge train configs/dcgan_mnist.toml      # on each machine

How ganforge splits the work (so that N processes compute what one process computes):

- ``data.batch_size`` is the **global** batch B. Every rank walks the same epoch permutation
  and the same latent stream, and takes its disjoint slice ``[r * B/N, (r+1) * B/N)`` of each
  global batch, of the latents and of the fake labels (the gradient penalty's interpolation
  weights too). Images seen, kimg schedules and the EMA half-life therefore count all ranks, and a
  run can be resumed on another number of processes.
- Gradients are averaged over ranks: G is wrapped in DistributedDataParallel. D is not: a D step
  runs two forward passes (real, fake) before one backward, and the gradient penalty and R1 take
  a double backward through D, which DDP's reducer hooks do not support; D's gradients are instead
  averaged with one flat all-reduce after its backward (as StyleGAN2-ADA does). Both are exact
  averages of the per-rank mean losses, i.e. the gradient of the global mean loss.
- Batch norm uses per-rank statistics by default; ``model.sync_bn=true`` swaps every batch norm
  for :class:`SyncBatchNorm` (global batch statistics, on CPU/gloo too), with the same state-dict keys.
- Rank 0 alone writes the run directory (metrics.jsonl, grids, checkpoints, evaluations, the
  lock); logged statistics are all-reduced. A stop request (Ctrl-C, SIGTERM) on any rank is
  agreed on by all ranks at the next check (every step on CPU, every log interval on CUDA), then
  rank 0 saves once and every rank stops.
- Backend: nccl when training on CUDA, gloo on the CPU.

Exact equality with one process holds for models without dropout (dropout masks are drawn per
rank) and, with batch norm, with ``model.sync_bn=true``.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def active(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def slice(self, n_global: int) -> slice:
        """This rank's part of a global batch of ``n_global``."""
        per = n_global // self.world
        return slice(self.rank * per, (self.rank + 1) * per)


SINGLE = Dist()


def env_world() -> Dist:
    """The rank layout torchrun announces in the environment (one process: rank 0 of 1)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return SINGLE
    return Dist(int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0")))


def setup(device_name: str) -> Dist:
    """Join the process group torchrun set up (gloo on CPU, nccl on CUDA); SINGLE without torchrun."""
    d = env_world()
    if not d.active:
        return d
    if not dist.is_initialized():
        cuda = device_name.startswith("cuda") or (device_name == "auto" and torch.cuda.is_available())
        if cuda:
            torch.cuda.set_device(d.local_rank)
        dist.init_process_group(backend="nccl" if cuda else "gloo")
    return Dist(dist.get_rank(), dist.get_world_size(), d.local_rank)


def teardown() -> None:
    """Leave the process group: every rank meets here first, after the models using it are freed
    (a DDP module that outlives its group aborts the process at exit)."""
    if dist.is_available() and dist.is_initialized():
        import gc

        gc.collect()
        dist.barrier()
        dist.destroy_process_group()


def rank_device(device: torch.device, d: Dist) -> torch.device:
    """cuda -> cuda:LOCAL_RANK for a distributed run; other devices unchanged."""
    if d.active and device.type == "cuda" and device.index is None:
        return torch.device("cuda", d.local_rank)
    return device


def all_reduce_mean_(tensor: torch.Tensor, d: Dist) -> torch.Tensor:
    if d.active:
        dist.all_reduce(tensor)
        tensor.div_(d.world)
    return tensor


def average_gradients(module: nn.Module, d: Dist) -> None:
    """Average the gradients of ``module`` over ranks with one flat all-reduce."""
    if not d.active:
        return
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat.div_(d.world)
    offset = 0
    for g in grads:
        g.copy_(flat[offset:offset + g.numel()].view_as(g))
        offset += g.numel()


def any_rank(flag: bool, d: Dist, device: torch.device) -> bool:
    """True on every rank when ``flag`` is true on any rank."""
    if not d.active:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def broadcast_module(module: nn.Module, d: Dist) -> None:
    """Every rank starts from rank 0's parameters and buffers."""
    if d.active:
        for t in list(module.parameters()) + list(module.buffers()):
            dist.broadcast(t.data, 0)


def barrier(d: Dist) -> None:
    if d.active:
        dist.barrier()


class SyncBatchNorm(nn.Module):
    """Batch norm over the global batch of all ranks (any device, gloo included).

    Per channel, the mean of the local batch and then the mean squared deviation from the global
    mean are averaged over ranks with a differentiable all-reduce (``torch.distributed.nn``), so gradients, the gradient penalty's
    double backward and the running statistics match one process with the global batch. Holds
    the same parameters and buffers (same state-dict keys) as the BatchNorm it replaces.
    """

    mixes_samples = True  # each sample's output depends on the batch (objectives.gan_loss.samples_independent)

    def __init__(self, bn: nn.modules.batchnorm._BatchNorm):
        super().__init__()
        self.num_features, self.eps, self.momentum = bn.num_features, bn.eps, bn.momentum
        self.affine, self.track_running_stats = bn.affine, bn.track_running_stats
        self.weight, self.bias = bn.weight, bn.bias
        for name in ("running_mean", "running_var", "num_batches_tracked"):
            self.register_buffer(name, getattr(bn, name))
        self.training = bn.training

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
            return nn.functional.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                                            self.training or self.running_mean is None, self.momentum or 0.0, self.eps)
        from torch.distributed.nn.functional import all_reduce

        world = dist.get_world_size()
        dims = [0] + list(range(2, x.dim()))
        xf = x.float()
        shape = [1, -1] + [1] * (x.dim() - 2)
        mean = all_reduce(xf.mean(dims)) / world  # two passes, as batch norm itself computes them
        centred = xf - mean.view(shape)
        var = all_reduce(centred.pow(2).mean(dims)) / world
        y = centred * torch.rsqrt(var.view(shape) + self.eps)
        if self.weight is not None:  # None: norm=batch_shift (a shift, no scale)
            y = y * self.weight.view(shape)
        if self.bias is not None:
            y = y + self.bias.view(shape)
        if self.track_running_stats:
            with torch.no_grad():
                n = x.numel() // x.shape[1] * world
                self.num_batches_tracked.add_(1)
                m = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                self.running_mean.mul_(1 - m).add_(mean.detach(), alpha=m)
                self.running_var.mul_(1 - m).add_(var.detach() * n / max(n - 1, 1), alpha=m)
        return y.to(x.dtype)


def convert_sync_batchnorm(module: nn.Module) -> nn.Module:
    """Replace every BatchNorm1d/2d in ``module`` by :class:`SyncBatchNorm` (in place)."""
    for name, child in module.named_children():
        if isinstance(child, (nn.BatchNorm1d, nn.BatchNorm2d)):
            setattr(module, name, SyncBatchNorm(child))
        else:
            convert_sync_batchnorm(child)
    return module


def wrap_generator(G: nn.Module, d: Dist, device: torch.device) -> nn.Module:
    """G for the training passes: DistributedDataParallel when distributed (per-rank BN buffers)."""
    if not d.active:
        return G
    from torch.nn.parallel import DistributedDataParallel as DDP

    ids = [device.index] if device.type == "cuda" else None
    with warnings.catch_warnings():  # broadcast_buffers=False is still the way to keep rank-local BN buffers
        warnings.simplefilter("ignore", FutureWarning)
        return DDP(G, device_ids=ids, broadcast_buffers=False)
