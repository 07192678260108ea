"""config -> (data, G, D, loss, optimizers): the one place where ingredients are assembled."""

from __future__ import annotations

import torch

from .config import Config
from .data import build_data, data_info
from .errors import GanforgeError
from .models import build_discriminator, build_generator
from .objectives import build_loss
from .training.optimizers import make_optimizer
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


def build_experiment(cfg: Config, device: torch.device | None = None, progress: bool = True) -> Experiment:
    if cfg.train.threads > 0:
        torch.set_num_threads(cfg.train.threads)
    device = device or resolve_device(cfg.train.device)
    seed_everything(cfg.seed)
    data_device = device if cfg.data.device == "auto" else resolve_device(cfg.data.device)
    data = build_data(cfg.data, cfg.seed, data_device, progress=progress)
    G = build_generator(cfg.model, data.info).to(device)
    D = build_discriminator(cfg.model, data.info).to(device)
    loss = build_loss(cfg)
    opt_g = make_optimizer(G.parameters(), cfg.optim, cfg.optim.g_lr)
    opt_d = make_optimizer(D.parameters(), cfg.optim, cfg.optim.d_lr)
    return Experiment(cfg, data, G, D, loss, opt_g, opt_d, device)
