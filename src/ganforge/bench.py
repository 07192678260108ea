"""``ganforge bench``: training throughput of the real trainer vs bare PyTorch loops, one process.

Three loops run over the same models, loss, optimizer settings and batch size, interleaved
``repeats`` times after a warm-up, and the medians are printed:

- ganforge: the Trainer with its progress bar and metrics.jsonl logging (no grids/checkpoints);
- bare:     a hand-written loop doing the same math (same D/G step order, reused fake batch,
            D frozen during the G step) with tensors sliced straight from memory;
- textbook: the PyTorch DCGAN-tutorial loop (as ``bare`` but D's weight gradients are also
            computed in the G step and thrown away).

ratio = ganforge / bare measures the framework's overhead (goal >= 0.95). A config the bare loops cannot
mirror (conditioning or clusters, InfoGAN, penalties, EMA) is benched as the trainer alone: its img/s,
FLOP/s and fraction of the peak, no ratios, and the output says which settings kept the loops out. Each precision
(fp32 and bf16 by default; ``--precision``) is measured the same way, the bare loops autocast as
the trainer does, and the speed-up of each over fp32 is printed beside the ratios.

Beside img/s: the model FLOPs of one step (:mod:`ganforge.flops`: G and D forward, the backward
passes, penalties), the achieved FLOP/s of each loop (FLOPs/step x steps/s), and, measured in the same
process on the same thread count, the machine's matmul peak in fp32 and bf16 (and fp16 on CUDA;
square ``peak_size`` matmuls, best of ``peak_repeats``) with each precision's fraction of its peak.
``--json FILE`` writes the returned dictionary.
"""

from __future__ import annotations

import io
import json
import resource
import statistics
import tempfile
import time
from pathlib import Path

import torch

from .build import build_experiment, resolve_device
from .choices import load_config
from .flops import StepFlops, peaks, step_flops
from .training.callbacks import JsonlLogger, ProgressBar
from .models.latent import model_latent
from .training.trainer import Trainer


def _bare_loop(exp, steps: int, freeze_d: bool) -> float:
    """Seconds for ``steps`` generator steps of a minimal hand-written loop (autocast as the
    trainer's precision says, fp32 logits into the loss, the same memory format)."""
    cfg = exp.cfg
    B, d_steps = cfg.data.batch_size, cfg.train.d_steps
    G, D, obj, opt_g, opt_d = exp.G_train, exp.D_train, exp.loss.objective, exp.opt_g, exp.opt_d
    autocast = exp.precision.autocast  # the trainer's own precision object
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
            z = model_latent(cfg.model, B, exp.device)
            with torch.set_grad_enabled(i == d_steps - 1), autocast():
                fake = G(z).float()
            with autocast():
                real_logits, fake_logits = D(real), D(fake.detach())
            d_loss = obj.d_loss(real_logits.float(), fake_logits.float())
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
        if freeze_d:
            exp.D.requires_grad_(False)
        with autocast():
            logits = D(fake)
        g_loss = obj.g_loss(logits.float())
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        exp.D.requires_grad_(True)
    g_loss.item()  # wait for the device
    return time.perf_counter() - start


def bench_trainer(exp, log_dir: str | Path) -> Trainer:
    """The trainer ``ganforge bench`` times: its progress bar (into a string) and metrics.jsonl logging
    (in ``log_dir``), no grids or checkpoints."""
    return Trainer(exp, [ProgressBar(file=io.StringIO()), JsonlLogger(Path(log_dir) / "metrics.jsonl")])


def _trainer_loop(trainer: Trainer, steps: int) -> float:
    trainer.total_steps = trainer.step + steps
    start = time.perf_counter()
    trainer.run()
    return time.perf_counter() - start


def _measure(cfg, steps: int, warmup: int, repeats: int, bare_loops: bool = True) -> tuple[dict, str, StepFlops]:
    """img/s of the three loops (medians over ``repeats``, interleaved; the trainer alone without
    ``bare_loops``) for one config, and its FLOPs/step."""
    images_per_step = cfg.data.batch_size * cfg.train.d_steps
    with tempfile.TemporaryDirectory() as tmp:
        exp = build_experiment(cfg)
        trainer = bench_trainer(exp, tmp)
        flops = step_flops(cfg, exp.G, exp.D, exp.data.info.num_classes)
        bare = build_experiment(cfg) if bare_loops else None
        _trainer_loop(trainer, warmup)
        if bare is not None:
            _bare_loop(bare, warmup, True)
            _bare_loop(bare, warmup, False)
        times: dict[str, list[float]] = {"ganforge": [], "bare": [], "textbook": []} if bare is not None else {"ganforge": []}
        for _ in range(repeats):
            times["ganforge"].append(_trainer_loop(trainer, steps))
            if bare is not None:
                times["bare"].append(_bare_loop(bare, steps, True))
                times["textbook"].append(_bare_loop(bare, steps, False))
    return ({k: steps * images_per_step / statistics.median(v) for k, v in times.items()}, str(exp.device), flops)


def run_bench(config: str, overrides: list[str] | None = None, steps: int = 300, warmup: int = 30,
              repeats: int = 3, precisions: list[str] | None = None, peak_size: int = 0, peak_repeats: int = 5,
              json_out: str | None = None) -> dict:
    """Bench the trainer against the bare loops in each precision (default: fp32 and bf16; fp16
    too on CUDA), side by side: the overhead ratio per precision and the speed-up over fp32; the
    FLOPs/step, achieved FLOP/s and fraction of the matmul peak (``peak_size`` 0: 2048 on the CPU,
    4096 on CUDA)."""
    cfg = load_config(config, overrides)
    cfg.log.progress = False
    extras = [name for name, on in (("model.conditioning=none", cfg.model.conditioning != "none"),
                                    ("model.latent_info=false", cfg.model.latent_info),
                                    ("loss.gp_weight=0", cfg.loss.gp_weight), ("loss.r1_gamma=0", cfg.loss.r1_gamma),
                                    ("train.ema_kimg=0", cfg.train.ema_kimg)) if on]
    if precisions is None:
        precisions = ["fp32", "bf16"] + (["fp16"] if resolve_device(cfg.train.device).type == "cuda" else [])
    rates, device = {}, ""
    for p in precisions:
        cfg.train.precision = p
        rates[p], device, flops = _measure(cfg, steps, warmup, repeats, bare_loops=not extras)
    threads = torch.get_num_threads()  # as the training set them (train.threads)
    peak = peaks(["fp32", "bf16"] + [p for p in precisions if p not in ("fp32", "bf16")], device, peak_size, peak_repeats)
    per_image = {"ganforge": flops.total, "bare": flops.total, "textbook": flops.total + flops.textbook_extra}
    images_per_step = cfg.data.batch_size * cfg.train.d_steps
    achieved = {p: {k: r[k] / images_per_step * per_image[k] for k in r} for p, r in rates.items()}
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {
        "config": cfg.name,
        "device": device,
        "threads": threads,
        "batch_size": cfg.data.batch_size,
        "channels_last": cfg.model.channels_last,
        "compile": cfg.train.compile,
        "steps": steps,
        "repeats": repeats,
        "img_per_s": {p: {k: round(v, 1) for k, v in r.items()} for p, r in rates.items()},
        # the settings the bare loops do not mirror (then only the trainer is timed, and no ratios given)
        "trainer_only": extras,
        "ratio_vs_bare": {p: round(r["ganforge"] / r["bare"], 3) for p, r in rates.items() if "bare" in r},
        "ratio_vs_textbook": {p: round(r["ganforge"] / r["textbook"], 3) for p, r in rates.items() if "bare" in r},
        "speedup_vs_fp32": ({p: round(r["ganforge"] / rates["fp32"]["ganforge"], 3) for p, r in rates.items()}
                            if "fp32" in rates else {}),
        "flops_per_step": flops.to_dict(),
        "gflop_per_s": {p: {k: float(f"{v / 1e9:.4g}") for k, v in a.items()} for p, a in achieved.items()},
        "peak_gflop_per_s": {p: float(f"{v / 1e9:.4g}") for p, v in peak.items()},
        "peak_matmul": {"size": peak_size or (4096 if device.startswith("cuda") else 2048), "repeats": peak_repeats,
                        "threads": threads},
        "fraction_of_peak": {p: float(f"{a['ganforge'] / peak[p]:.4g}") for p, a in achieved.items()},
        "peak_rss_mb": round(peak_mb, 1),
    }
    if json_out:
        Path(json_out).write_text(json.dumps(result, indent=1) + "\n")
    _print(result, rates, flops)
    return result


def _print(result: dict, rates: dict, flops: StepFlops) -> None:
    row = "  {:<26}"
    head = "".join(f"{p:>11}" for p in rates)
    print(f"bench {result['config']}: batch {result['batch_size']}, {result['steps']} steps x {result['repeats']} "
          f"(median), device {result['device']}, {result['threads']} threads, "
          f"channels_last={str(result['channels_last']).lower()}, compile={result['compile']}")
    print(f"  model FLOPs: {flops.describe()}")
    print(row.format("img/s") + head)
    for key, label in (("ganforge", "ganforge trainer"), ("bare", "bare PyTorch loop"), ("textbook", "textbook loop")):
        if key in next(iter(rates.values())):
            print(row.format(label) + "".join(f"{r[key]:11.1f}" for r in rates.values()))
    if result["trainer_only"]:
        print("  (the trainer alone: the bare loops run plain unconditional GAN steps, without "
              f"{', '.join(s.split('=')[0] for s in result['trainer_only'])}; they run with "
              f"{' '.join(result['trainer_only'])})")
    else:
        print(row.format("ratio ganforge/bare") + "".join(f"{v:11.3f}" for v in result["ratio_vs_bare"].values()))
        print(row.format("ratio ganforge/textbook") + "".join(f"{v:11.3f}" for v in result["ratio_vs_textbook"].values()))
    if result["speedup_vs_fp32"]:
        print(row.format("speed-up over fp32") + "".join(f"{v:10.2f}x" for v in result["speedup_vs_fp32"].values()))
    print(row.format("trainer GFLOP/s") + "".join(f"{a['ganforge']:11.4g}" for a in result["gflop_per_s"].values()))
    print(row.format("matmul peak GFLOP/s") + "".join(f"{result['peak_gflop_per_s'][p]:11.4g}" for p in rates))
    print(row.format("fraction of peak") + "".join(f"{v:11.3g}" for v in result["fraction_of_peak"].values()))
    print(f"  peak: {result['peak_matmul']['size']}^2 matmuls, best of {result['peak_matmul']['repeats']}, "
          f"{result['threads']} threads; peak RSS {result['peak_rss_mb']:.1f} MB")
