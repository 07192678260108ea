"""config -> (data, G, D, loss, optimizers): the one place where ingredients are assembled."""

from __future__ import annotations

import torch

from .config import Config
from .data import build_data, data_info
from .errors import GanforgeError
from .models import build_discriminator, build_generator
from .objectives import build_loss
from .training.compile import compiled
from .training.optimizers import make_optimizer
from .training.distributed import SINGLE, Dist, broadcast_module, convert_sync_batchnorm, rank_device, wrap_generator
from .training.precision import Precision
from .training.rng import seed_everything
from .training.trainer import Experiment


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise GanforgeError(f"train.device '{name}' is not a device; use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise GanforgeError(f"train.device is '{name}' but CUDA is not available; use train.device=cpu")
    return device


def build_generator_only(cfg: Config, device: torch.device | str = "cpu") -> torch.nn.Module:
    """The generator alone (for sampling): no data is loaded."""
    return build_generator(cfg.model, data_info(cfg.data)).to(device)


def self_condition(data, k: int, seed: int, method: str = "kmeans", channels: bool = False,
                   sample: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Label the images of ``data`` (an in-memory image source) with their clusters (``method``: a
    :data:`~ganforge.data.clusters.CLUSTER_METHODS` word; ``channels``: each channel's, combined; ``sample``:
    clustered on that many images, see :func:`~ganforge.data.clusters.sampled_clusters`); returns
    the clusters' image counts (K, or channels x K) and centres (mean pixels)."""
    from .data.clusters import channel_cluster_labels, cluster_labels, combine_factors

    if not hasattr(data, "relabel"):
        raise GanforgeError("model.clusters needs an in-memory image data set (mnist, fashion_mnist, "
                            "stacked_mnist, folder)")
    if not channels:
        labels, centers = cluster_labels(data.images, k, seed, method, sample)
        data.relabel(labels, k)
        return torch.bincount(labels, minlength=k), centers
    per_channel, centers = channel_cluster_labels(data.images, k, seed, method, sample)
    data.relabel(combine_factors(per_channel, k), k ** per_channel.shape[1])
    return torch.stack([torch.bincount(col, minlength=k) for col in per_channel.T]), centers


def build_experiment(cfg: Config, device: torch.device | None = None, progress: bool = True,
                     dist: Dist = SINGLE) -> Experiment:
    """Everything a training needs; ``dist`` (a torchrun rank) shards the data and syncs the models."""
    if cfg.train.threads > 0:
        torch.set_num_threads(cfg.train.threads)
    device = rank_device(device or resolve_device(cfg.train.device), dist)
    if dist.active:
        local, rem = divmod(cfg.data.batch_size, dist.world)
        if rem or local % cfg.model.d.pack:
            raise GanforgeError(f"data.batch_size ({cfg.data.batch_size}) is the global batch: it must split evenly "
                                f"over {dist.world} processes (and model.d.pack={cfg.model.d.pack} on each)")
    seed_everything(cfg.seed)
    data_device = device if cfg.data.device == "auto" else rank_device(resolve_device(cfg.data.device), dist)
    data = build_data(cfg.data, cfg.seed, data_device, progress=progress and dist.is_main)
    if data.info.class_names and not cfg.data.class_names:  # a labelled folder: its classes travel with the run
        cfg.data.class_names = list(data.info.class_names)
    data.shard(dist.slice(cfg.data.batch_size))
    if data_device != device:
        data.send_to(device)  # host-resident data: pinned memory and asynchronous uploads on CUDA
    if cfg.model.clusters:  # a self-conditioned GAN: the images' clusters are their labels
        counts, centers = self_condition(data, cfg.model.clusters, cfg.seed, cfg.model.cluster_method,
                                         cfg.model.cluster_channels, cfg.model.cluster_sample)
    G = build_generator(cfg.model, data.info).to(device)
    if cfg.model.clusters:
        G.set_clusters(counts, centers)
    D = build_discriminator(cfg.model, data.info).to(device)
    if dist.active:
        if cfg.model.sync_bn:
            convert_sync_batchnorm(G)
            convert_sync_batchnorm(D)
        broadcast_module(G, dist)
        broadcast_module(D, dist)
    precision = Precision(cfg.train.precision, device, quiet=not dist.is_main)
    loss = build_loss(cfg, precision)
    loss.penalties.part = (dist.rank, dist.world)
    opt_g = make_optimizer(G.parameters(), cfg.optim, cfg.optim.g_lr, cfg.optim.g_betas)
    opt_d = make_optimizer(D.parameters(), cfg.optim, cfg.optim.d_lr, cfg.optim.d_betas)
    return Experiment(cfg, data, G, D, loss, opt_g, opt_d, device, precision, dist,
                      compiled(wrap_generator(G, dist, device), cfg.train.compile), compiled(D, cfg.train.compile))
