"""Levers toward the CPU's peak, in one run: for each preset and precision, the trainer's img/s, the
model FLOPs of a step (ganforge.flops), achieved FLOP/s and the fraction of the matmul peak, at a
baseline (the preset as written, PyTorch's default threads, oneDNN on, no compile) and with one lever
changed at a time: batch size, channels_last off, torch.compile (default and
max-autotune-no-cudagraphs), 1 thread, 1 inter-op thread, oneDNN (torch.backends.mkldnn) off.

    GANFORGE_DATA=DIR PYTHONPATH=src python benchmarks/peak_levers.py [--quick] [--out levers.json] [--md levers.md]

Each cell runs in its own process (inter-op threads can only be set before any parallel work, and a
cell's compile caches, oneDNN switch and memory must not leak into the next), warms up (3 steps, then
``--warmup`` seconds; compilation happens there and is recorded as warmup_s) and then times the
trainer (no callbacks) for ``--seconds`` in chunks of about half a second: img/s is the median chunk.
The matmul peaks (fp32, bf16; square ``--peak-size`` matmuls, best of 5) are measured in this process
first, at each thread count the cells use. A cell that fails or times out records its error line.
Results go to ``--out`` (JSON, rewritten after every cell) and a markdown table of img/s ratios over
each row's baseline is printed (and written to ``--md``). ``--quick``: 2.5 s windows, for a smoke run.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))  # this checkout's ganforge, installed or not

import torch

PRESETS = [  # name=config [overrides]: the README speed table's conv and MLP presets
    "mlp_mnist=configs/mlp_mnist.toml",
    "dcgan_mnist=configs/dcgan_mnist.toml",
    "dcgan_mnist_w128=configs/dcgan_mnist.toml model.g.width=128 model.d.width=128",
]
BATCHES = (64, 128, 256, 512)
COMPILE_MODES = ("default", "max-autotune-no-cudagraphs")
GROUPS = ("batch", "layout", "compile", "threads", "mkldnn")


def parse_preset(text: str) -> tuple[str, str, list[str]]:
    """'name=path override ...' -> (name, path, overrides)."""
    name, _, rest = text.partition("=")
    words = shlex.split(rest)
    if not name or not words:
        raise SystemExit(f"--preset wants NAME=CONFIG [override ...], got {text!r}")
    return name, words[0], words[1:]


def lever_cells(base: dict, batch: int, convolutional: bool, groups, threads: int) -> list[dict]:
    """The cells that change one lever of ``base`` (the baseline cell): a batch equal to the baseline's is
    the baseline itself and not run again; channels_last is a lever of conv nets only."""
    cells = []
    if "batch" in groups:
        cells += [{"lever": f"batch {b}", "batch": b} for b in BATCHES if b != batch]
    if "layout" in groups and convolutional:
        cells.append({"lever": "NCHW", "channels_last": False})
    if "compile" in groups:
        cells += [{"lever": "compile" if m == "default" else m, "compile": m} for m in COMPILE_MODES]
    if "threads" in groups:
        cells += [{"lever": "1 thread", "threads": 1}] if threads > 1 else []
        cells.append({"lever": "interop 1", "interop": 1})
    if "mkldnn" in groups:
        cells.append({"lever": "no mkldnn", "mkldnn": False})
    return [{**base, **c} for c in cells]


def plan(presets, precisions, groups, seconds: float, warmup: float, device: str, threads: int) -> list[dict]:
    from ganforge.choices import load_config

    cells = []
    for text in presets:
        name, path, overrides = parse_preset(text)
        cfg = load_config(str(ROOT / path) if not Path(path).is_absolute() else path, overrides)
        convolutional = "mlp" not in (cfg.model.g.arch, cfg.model.d.arch)
        for p in precisions:
            base = {"preset": name, "config": path, "overrides": overrides, "precision": p, "lever": "baseline",
                    "batch": cfg.data.batch_size, "channels_last": cfg.model.channels_last, "compile": "none",
                    "threads": 0, "interop": 0, "mkldnn": True, "seconds": seconds, "warmup": warmup, "device": device}
            cells += [base] + lever_cells(base, cfg.data.batch_size, convolutional, groups, threads)
    return cells


# ------------------------------------------------------------------ one cell, in its own process
def run_cell(cell: dict) -> dict:
    """Trainer img/s and FLOPs of one cell (the caller has set the inter-op threads and oneDNN)."""
    from ganforge.build import build_experiment
    from ganforge.choices import load_config
    from ganforge.flops import step_flops
    from ganforge.training.trainer import Trainer

    path = cell["config"] if Path(cell["config"]).is_absolute() else str(ROOT / cell["config"])
    threads = [f"train.threads={cell['threads']}"] if cell["threads"] else []  # 0: the preset's or PyTorch's
    cfg = load_config(path, [*cell["overrides"], f"data.batch_size={cell['batch']}",
                             f"model.channels_last={str(cell['channels_last']).lower()}",
                             f"train.compile={cell['compile']}", *threads,
                             f"train.precision={cell['precision']}", f"train.device={cell['device']}",
                             "log.progress=false"])
    exp = build_experiment(cfg, progress=False)
    flops = step_flops(cfg, exp.G, exp.D, exp.data.info.num_classes)
    trainer = Trainer(exp, [])
    images_per_step = cfg.data.batch_size * cfg.train.d_steps

    def steps(n: int) -> float:
        trainer.total_steps = trainer.step + n
        start = time.perf_counter()
        trainer.run()
        if exp.device.type == "cuda":
            torch.cuda.synchronize(exp.device)
        return time.perf_counter() - start

    warmup_s = steps(3)  # compilation, first-call allocations and kernel choices
    per_step = steps(1)
    warmup_s += per_step
    while warmup_s < cell["warmup"]:
        n = max(1, int(0.25 / max(per_step, 1e-6)))
        t = steps(n)
        warmup_s, per_step = warmup_s + t, t / n
    chunk = max(1, int(0.5 / max(per_step, 1e-6)))
    rates, spent = [], 0.0
    while spent < cell["seconds"] or len(rates) < 2:
        t = steps(chunk)
        spent += t
        rates.append(chunk * images_per_step / t)
    img_per_s = statistics.median(rates)
    return {"img_per_s": round(img_per_s, 1), "chunks": len(rates), "steps_timed": chunk * len(rates),
            "warmup_s": round(warmup_s, 2), "threads_used": torch.get_num_threads(),
            "interop_used": torch.get_num_interop_threads(), "flops_per_step": flops.total,
            "gflop_per_s": float(f"{flops.total * img_per_s / images_per_step / 1e9:.4g}")}


def cell_main(text: str) -> None:
    cell = json.loads(text)
    if cell["interop"]:
        torch.set_num_interop_threads(cell["interop"])  # before any parallel work
    torch.backends.mkldnn.enabled = cell["mkldnn"]
    print("RESULT " + json.dumps(run_cell(cell)), flush=True)


# ------------------------------------------------------------------ the run
def run_in_process(cell: dict, timeout: float) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))}
    try:
        p = subprocess.run([sys.executable, __file__, "--cell", json.dumps(cell)], capture_output=True, text=True,
                           timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"error": f"timeout after {timeout:.0f} s"}
    for line in reversed(p.stdout.splitlines()):
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    lines = [x for x in p.stderr.splitlines() if x.strip()]
    return {"error": (lines[-1] if lines else f"exit status {p.returncode}")[:300]}


def measure_peaks(precisions, thread_counts, size: int, device: str) -> dict[str, float]:
    """GFLOP/s of the matmul peak per 'precision@threads'."""
    from ganforge.flops import PEAK_DTYPES, matmul_peak

    default, out = torch.get_num_threads(), {}
    for t in sorted(set(thread_counts)):
        torch.set_num_threads(t)
        for p in precisions:
            out[f"{p}@{t}"] = float(f"{matmul_peak(PEAK_DTYPES[p], device, size) / 1e9:.4g}")
    torch.set_num_threads(default)
    return out


def with_peak(r: dict, peak: dict[str, float], threads: int) -> dict:
    """A timed cell's peak (its precision at the thread count it ran with) and its fraction of it."""
    if "img_per_s" in r:
        r["peak_gflop_per_s"] = peak.get(f"{r['precision']}@{r['threads_used']}") or peak[f"{r['precision']}@{threads}"]
        r["fraction_of_peak"] = float(f"{r['gflop_per_s'] / r['peak_gflop_per_s']:.4g}")
    return r


def _save(path: str | None, peak: dict, results: list[dict]) -> None:
    if path:
        Path(path).write_text(json.dumps({"peak_gflop_per_s": peak, "cells": results}, indent=1) + "\n")


def _ratio(cell: dict, base: dict) -> str:
    if "error" in cell:
        return "timeout" if cell["error"].startswith("timeout") else "error"
    if "error" in base or not base.get("img_per_s"):
        return "-"
    return f"{cell['img_per_s'] / base['img_per_s']:.2f}x"


def markdown(results: list[dict]) -> str:
    """One row per preset and precision: the baseline's numbers and each lever's img/s over the baseline's."""
    levers = []
    for r in results:
        if r["lever"] != "baseline" and r["lever"] not in levers:
            levers.append(r["lever"])
    head = ["preset", "precision", "baseline img/s", "GFLOP/step", "GFLOP/s", "% of peak", *levers, "best % of peak"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * 2 + "---:|" * (len(head) - 2)]
    rows: dict[tuple, dict[str, dict]] = {}
    for r in results:
        rows.setdefault((r["preset"], r["precision"]), {})[r["lever"]] = r
    for (preset, precision), cells in rows.items():
        base = cells.get("baseline", {"error": "missing"})
        ok = "error" not in base
        best = max((c for c in cells.values() if "fraction_of_peak" in c), key=lambda c: c["fraction_of_peak"], default=None)
        cols = [f"`{preset}`", precision,
                f"{base['img_per_s']:,.0f}" if ok else base["error"][:40],
                f"{base['flops_per_step'] / 1e9:.3g}" if ok else "-",
                f"{base['gflop_per_s']:.3g}" if ok else "-",
                f"{100 * base['fraction_of_peak']:.1f}%" if ok else "-",
                *[_ratio(cells[lever], base) if lever in cells else "n/a" for lever in levers],
                f"{100 * best['fraction_of_peak']:.1f}% ({best['lever']})" if best else "-"]
        lines.append("| " + " | ".join(cols) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cell", help=argparse.SUPPRESS)  # internal: run one cell, print its RESULT line
    ap.add_argument("--quick", action="store_true", help="2.5 s per cell, 0.5 s warm-up, 1024^2 peak matmuls")
    ap.add_argument("--seconds", type=float, default=None, help="timed seconds per cell (default 10; --quick 2.5)")
    ap.add_argument("--warmup", type=float, default=None, help="warm-up seconds after 3 steps (default 2; --quick 0.5)")
    ap.add_argument("--preset", action="append", default=None, metavar="NAME=CONFIG [OVERRIDES]",
                    help="replaces the default presets (repeatable)")
    ap.add_argument("--precisions", default="fp32,bf16")
    ap.add_argument("--levers", default=",".join(GROUPS), help=f"lever groups to vary, of {','.join(GROUPS)}")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--peak-size", type=int, default=None, help="matmul side for the peak (default 2048; --quick 1024)")
    ap.add_argument("--timeout", type=float, default=None, help="seconds per cell before it is stopped (default "
                    "seconds + warm-up + 180; compile cells 900, --quick 300)")
    ap.add_argument("--out", default=None, help="JSON file of every cell (rewritten after each)")
    ap.add_argument("--md", default=None, help="also write the markdown table here")
    args = ap.parse_args(argv)
    if args.cell:
        cell_main(args.cell)
        return 0
    seconds = args.seconds if args.seconds is not None else (2.5 if args.quick else 10.0)
    warmup = args.warmup if args.warmup is not None else (0.5 if args.quick else 2.0)
    groups = [g for g in args.levers.split(",") if g]
    if set(groups) - set(GROUPS):
        ap.error(f"--levers: unknown {sorted(set(groups) - set(GROUPS))}; choose from {','.join(GROUPS)}")
    precisions = [p for p in args.precisions.split(",") if p]
    threads = torch.get_num_threads()
    cells = plan(args.preset or PRESETS, precisions, groups, seconds, warmup, args.device, threads)
    print(f"peak_levers: {len(cells)} cells, {seconds:g} s each, torch {torch.__version__}, {threads} threads", flush=True)
    peak_args = (precisions, [threads, 1] if "threads" in groups else [threads],
                 args.peak_size or (1024 if args.quick else 2048), args.device)
    peak = measure_peaks(*peak_args)
    print("matmul peak GFLOP/s: " + ", ".join(f"{k} {v:g}" for k, v in peak.items()), flush=True)
    results = []
    for i, cell in enumerate(cells, 1):
        timeout = args.timeout or (seconds + warmup + 180 if cell["compile"] == "none" else (300 if args.quick else 900))
        r = with_peak({**cell, **run_in_process(cell, timeout)}, peak, threads)
        results.append(r)
        print(f"[{i}/{len(cells)}] {cell['preset']} {cell['precision']} {cell['lever']}: "
              + (f"{r['img_per_s']:,.1f} img/s, {r['gflop_per_s']:.3g} GFLOP/s, {100 * r['fraction_of_peak']:.2f}% of peak"
                 if "img_per_s" in r else r["error"]), flush=True)
        _save(args.out, peak, results)
    again = measure_peaks(*peak_args)  # the better of two measurements, before and after the cells
    if any(again[k] > peak[k] for k in peak):
        peak = {k: max(v, again[k]) for k, v in peak.items()}
        results = [with_peak(r, peak, threads) for r in results]
        print("matmul peak GFLOP/s after the cells (the better kept): " + ", ".join(f"{k} {v:g}" for k, v in peak.items()))
        _save(args.out, peak, results)
    table = markdown(results)
    print(table)
    if args.md:
        Path(args.md).write_text(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
