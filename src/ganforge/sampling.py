"""Sampling from a trained run: only the generator is built, no data is loaded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .build import build_generator_only
from .data import data_info
from .errors import GanforgeError
from .training.run import load_run_config
from .training.trainer import sample_latent
from .viz import save_grid, save_scatter, to_uint8


def load_generator(run_dir: str | Path, device: str | torch.device = "cpu"):
    """(generator in eval mode, config) from a run directory or checkpoint file; the EMA weights
    of the generator when the run kept them."""
    cfg, state = load_run_config(run_dir)
    G = build_generator_only(cfg, device)
    try:
        G.load_state_dict(state["g_ema"] if state.get("g_ema") is not None else state["g"])
    except (RuntimeError, KeyError) as exc:
        raise GanforgeError(f"generator weights in {run_dir} do not match its config ({str(exc).splitlines()[0][:120]})") from None
    G.eval()
    return G, cfg


@torch.no_grad()
def generate(G, cfg, n: int, seed: int = 0, batch_size: int = 1000, device="cpu") -> torch.Tensor:
    """n samples as a float tensor in the data's range ([-1, 1] for images)."""
    gen = torch.Generator(device=device)
    gen.manual_seed(seed)
    out = []
    for start in range(0, n, batch_size):
        z = sample_latent(min(batch_size, n - start), cfg.model.latent_dim, cfg.model.latent_dist, device, gen)
        out.append(G(z).cpu())
    return torch.cat(out)


def sample_to_file(run_dir: str | Path, out: str | Path, n: int = 64, seed: int = 0, nrow: int | None = None) -> Path:
    """Write ``n`` samples to ``out``: ``.png`` (grid or scatter plot) or ``.npz``."""
    out = Path(out)
    if out.suffix not in (".png", ".npz"):
        raise GanforgeError(f"--out must end in .png or .npz, got '{out.name}'")
    if n < 1:
        raise GanforgeError("--n must be >= 1")
    G, cfg = load_generator(run_dir)
    info = data_info(cfg.data)
    x = generate(G, cfg, n, seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    if info.kind == "points":
        if out.suffix == ".npz":
            np.savez_compressed(out, points=x.numpy().astype(np.float32), data=cfg.data.name)
        else:
            save_scatter(x.numpy(), out, centers=info.centers, title=f"{n} samples from {Path(run_dir).name}")
    else:
        images = to_uint8(x)
        if out.suffix == ".npz":
            np.savez_compressed(out, images=images.numpy(), data=cfg.data.name)
        else:
            save_grid(images, out, nrow=nrow)
    return out
