"""``ganforge bench``: training throughput of the real trainer vs bare PyTorch loops, one process.

Three loops run over the same models, loss, optimizer settings and batch size, interleaved
``repeats`` times after a warm-up, and the medians are printed:

- ganforge: the Trainer with its progress bar and metrics.jsonl logging (no grids/checkpoints);
- bare:     a hand-written loop doing the same math (same D/G step order, reused fake batch,
            D frozen during the G step) with tensors sliced straight from memory;
- textbook: the PyTorch DCGAN-tutorial loop (as ``bare`` but D's weight gradients are also
            computed in the G step and thrown away).

ratio = ganforge / bare measures the framework's overhead (goal >= 0.95).
"""

from __future__ import annotations

import io
import resource
import statistics
import tempfile
import time
from pathlib import Path

import torch

from .build import build_experiment
from .config import load_config
from .errors import GanforgeError
from .training.callbacks import JsonlLogger, ProgressBar
from .training.trainer import Trainer, sample_latent


def _bare_loop(exp, steps: int, freeze_d: bool) -> float:
    """Seconds for ``steps`` generator steps of a minimal hand-written loop."""
    cfg = exp.cfg
    B, d_steps = cfg.data.batch_size, cfg.train.d_steps
    G, D, obj, opt_g, opt_d = exp.G, exp.D, exp.loss.objective, exp.opt_g, exp.opt_d
    images = getattr(exp.data, "images", None)
    if images is not None:
        perm = torch.randperm(len(images), device=images.device)
    else:
        centers, std = exp.data.centers.to(exp.device), exp.data.std
    pos = 0
    start = time.perf_counter()
    for _ in range(steps):
        for i in range(d_steps):
            if images is not None:
                if pos + B > len(perm):
                    perm, pos = torch.randperm(len(images), device=images.device), 0
                real = images[perm[pos:pos + B]].float() / 127.5 - 1.0
                pos += B
            else:
                real = centers[torch.randint(len(centers), (B,), device=exp.device)]
                real = real + std * torch.randn(B, 2, device=exp.device)
            z = sample_latent(B, cfg.model.latent_dim, cfg.model.latent_dist, exp.device)
            with torch.set_grad_enabled(i == d_steps - 1):
                fake = G(z)
            d_loss = obj.d_loss(D(real), D(fake.detach()))
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
        if freeze_d:
            D.requires_grad_(False)
        g_loss = obj.g_loss(D(fake))
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        D.requires_grad_(True)
    g_loss.item()  # wait for the device
    return time.perf_counter() - start


def _trainer_loop(trainer: Trainer, steps: int) -> float:
    trainer.total_steps = trainer.step + steps
    start = time.perf_counter()
    trainer.run()
    return time.perf_counter() - start


def run_bench(config: str, overrides: list[str] | None = None, steps: int = 300, warmup: int = 30,
              repeats: int = 3) -> dict:
    cfg = load_config(config, overrides)
    cfg.log.progress = False
    extras = [name for name, on in (("model.conditioning=none", cfg.model.conditioning != "none"),
                                    ("loss.gp_weight=0", cfg.loss.gp_weight), ("loss.r1_gamma=0", cfg.loss.r1_gamma),
                                    ("train.ema_kimg=0", cfg.train.ema_kimg)) if on]
    if extras:
        raise GanforgeError("ganforge bench compares the trainer with a bare loop of plain unconditional GAN steps; "
                            f"this config needs more; bench it with: {' '.join(extras)}")
    images_per_step = cfg.data.batch_size * cfg.train.d_steps
    with tempfile.TemporaryDirectory() as tmp:
        exp = build_experiment(cfg)
        trainer = Trainer(exp, [ProgressBar(file=io.StringIO()), JsonlLogger(Path(tmp) / "metrics.jsonl")])
        bare = build_experiment(cfg)
        _trainer_loop(trainer, warmup)
        _bare_loop(bare, warmup, True)
        _bare_loop(bare, warmup, False)
        times: dict[str, list[float]] = {"ganforge": [], "bare": [], "textbook": []}
        for _ in range(repeats):
            times["ganforge"].append(_trainer_loop(trainer, steps))
            times["bare"].append(_bare_loop(bare, steps, True))
            times["textbook"].append(_bare_loop(bare, steps, False))
    rates = {k: steps * images_per_step / statistics.median(v) for k, v in times.items()}
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {
        "config": cfg.name,
        "device": str(exp.device),
        "threads": torch.get_num_threads(),
        "batch_size": cfg.data.batch_size,
        "steps": steps,
        "repeats": repeats,
        "img_per_s": {k: round(v, 1) for k, v in rates.items()},
        "ratio_vs_bare": round(rates["ganforge"] / rates["bare"], 3),
        "ratio_vs_textbook": round(rates["ganforge"] / rates["textbook"], 3),
        "peak_rss_mb": round(peak_mb, 1),
    }
    print(f"bench {cfg.name}: batch {cfg.data.batch_size}, {steps} steps x {repeats} (median), "
          f"device {exp.device}, {torch.get_num_threads()} threads")
    print(f"  ganforge trainer : {rates['ganforge']:9.1f} img/s")
    print(f"  bare PyTorch loop: {rates['bare']:9.1f} img/s   ratio ganforge/bare     = {result['ratio_vs_bare']:.3f}")
    print(f"  textbook loop    : {rates['textbook']:9.1f} img/s   ratio ganforge/textbook = "
          f"{result['ratio_vs_textbook']:.3f}")
    print(f"  peak RSS         : {peak_mb:9.1f} MB")
    return result
