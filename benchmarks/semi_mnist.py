"""Semi-supervised MNIST with 100 labels (Salimans et al. 2016): configs/semi_mnist.toml over
several seeds (each seed also draws its own 10 labelled images per class), the trained D's test
error, and beside it the supervised baseline: the same D network, optimiser and steps, trained on
the 100 labelled images alone (ganforge.applications.semi.train_supervised).

    python benchmarks/semi_mnist.py [--seeds 0,1,2] [--jobs N] [--out-dir runs/semi] [overrides ...]

Writes OUT_DIR/results.json and OUT_DIR/results.md. --jobs runs seeds in parallel (for a GPU).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "semi_mnist.toml"


def baseline(seed: int, overrides: list[str]) -> None:
    """In a child process: train and measure the supervised baseline, print one JSON line."""
    from ganforge.applications.semi import classifier_test_accuracy, train_supervised
    from ganforge.build import resolve_device
    from ganforge.choices import load_config

    cfg = load_config(CONFIG, [f"seed={seed}", *overrides])
    device = resolve_device(cfg.train.device)
    t = time.time()
    D = train_supervised(cfg, device=device)
    print(json.dumps({**classifier_test_accuracy(D, cfg, device=device), "seconds": round(time.time() - t, 1)}))


def run_seed(seed: int, out_dir: Path, overrides: list[str], no_baseline: bool = False) -> dict:
    run = out_dir / f"seed_{seed}"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    log = open(out_dir / f"seed_{seed}.log", "a")
    base_proc = None
    if not no_baseline:  # the baseline trains beside the GAN (a GPU has room for both)
        base_proc = subprocess.Popen([sys.executable, __file__, "--baseline-seed", str(seed), *overrides], env=env,
                                     stdout=subprocess.PIPE, stderr=log, text=True)
    t = time.time()
    if not (run / "checkpoints" / "last.pt").exists():
        subprocess.run([sys.executable, "-m", "ganforge", "train", str(CONFIG), f"seed={seed}", f"name=semi_seed{seed}",
                        *overrides, "--run-dir", str(run), "--no-progress"], env=env, stdout=log, stderr=subprocess.STDOUT,
                       check=True)
    train_s = round(time.time() - t, 1)
    subprocess.run([sys.executable, "-m", "ganforge", "eval", str(run), "--metrics", "fid", "--json",
                    str(run / "eval_semi.json"), "--no-progress"], env=env, stdout=log, stderr=subprocess.STDOUT, check=True)
    ev = json.loads((run / "eval_semi.json").read_text())
    out = {"seed": seed, "semi_error": ev["d_test_error"], "fid": ev["fid"], "train_s": train_s}
    if "d_last_test_error" in ev:  # the run kept a weight average of D (train.d_ema_kimg): the last weights' error too
        out["last_weights_error"] = ev["d_last_test_error"]
    if base_proc is not None:
        stdout, _ = base_proc.communicate()
        if base_proc.returncode:
            raise RuntimeError(f"the baseline of seed {seed} failed (see {out_dir}/seed_{seed}.log)")
        base = json.loads(stdout.strip().splitlines()[-1])
        out.update(supervised_error=base["d_test_error"], supervised_s=base["seconds"])
    print(json.dumps(out), flush=True)
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--out-dir", default="runs/semi")
    p.add_argument("--baseline-seed", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--no-baseline", action="store_true", help="skip the supervised baseline")
    p.add_argument("overrides", nargs="*")
    args = p.parse_args()
    if args.baseline_seed is not None:
        baseline(args.baseline_seed, args.overrides)
        return
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    seeds = [int(s) for s in args.seeds.split(",")]
    with ThreadPoolExecutor(args.jobs) as pool:
        rows = sorted(pool.map(lambda s: run_seed(s, out_dir, args.overrides, args.no_baseline), seeds), key=lambda r: r["seed"])

    def ms(key):
        v = [100 * r[key] for r in rows]
        return statistics.mean(v), (statistics.stdev(v) if len(v) > 1 else 0.0)

    semi = ms("semi_error")
    sup = ms("supervised_error") if not args.no_baseline else (float("nan"), float("nan"))
    (out_dir / "results.json").write_text(json.dumps({"rows": rows, "overrides": args.overrides, "semi_error_pct": semi,
                                                      "supervised_error_pct": sup}, indent=2) + "\n")
    lines = ["| seed | semi-supervised GAN: test error | supervised only: test error | FID of G |", "|---:|---:|---:|---:|"]
    def pct(v):  # --no-baseline: the baseline was not run
        return "not run" if v is None else f"{100 * v:.2f}%"

    lines += [f"| {r['seed']} | {100 * r['semi_error']:.2f}% | {pct(r.get('supervised_error'))} | "
              f"{r['fid']:.2f} |" for r in rows]
    sup_mean = "not run" if args.no_baseline else f"{sup[0]:.2f}% +- {sup[1]:.2f}"
    lines.append(f"| mean +- std | **{semi[0]:.2f}% +- {semi[1]:.2f}** | {sup_mean} | |")
    (out_dir / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
