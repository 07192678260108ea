"""``kill -9`` a training at random moments; after each kill, ``ganforge sample`` and
``ganforge train --resume`` must work and the resumed run must end exactly where an
uninterrupted run ends (same final weights, same logged losses).

    .venv/bin/python benchmarks/kill_test.py [--trials 20] [--seed 0] [--out /tmp/killtest]

The training is a small ring8 GAN that writes a checkpoint every 2 steps, so a large share of
its time is spent inside checkpoint writes (temp file, fsync, link, rename): random kills land
in every phase of the write. Exit status 0 when every trial passed.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

OVERRIDES = ["data.name=ring8", "data.batch_size=64", "model.latent_dim=4", "model.g.hidden=[64,64]",
             "model.g.output=none", "model.d.hidden=[64,64]", "train.steps=1200", "log.every=1",
             "log.sample_every=100", "log.checkpoint_every=2", "log.n_samples=64", "log.tensorboard=false",
             "optim.schedule=linear", "optim.decay_start=0.5", "train.ema_kimg=1"]


def ganforge(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    p = subprocess.run([sys.executable, "-m", "ganforge", *args], capture_output=True, text=True)
    if check and p.returncode != 0:
        raise AssertionError(f"ganforge {' '.join(args)} exited {p.returncode}: {p.stderr.strip()[-500:]}")
    return p


def final_state(run_dir: Path) -> tuple[dict, dict]:
    """(losses by step, the last occurrence of each step wins) and the final checkpoint's weights."""
    import torch

    from ganforge.training.checkpoint import load_checkpoint

    rows = {}
    for line in (run_dir / "metrics.jsonl").read_text().splitlines():
        r = json.loads(line)
        if "eval" not in r:
            rows[r["step"]] = (r["d_loss"], r["g_loss"])
    state = load_checkpoint(run_dir, fallback=False)
    weights = {k: v.clone() for k, v in {**state["g"], **{f"d.{k}": v for k, v in state["d"].items()}}.items()
               if isinstance(v, torch.Tensor)}
    return rows, weights


def same(a: tuple[dict, dict], b: tuple[dict, dict]) -> str:
    import torch

    (la, wa), (lb, wb) = a, b
    if sorted(la) != sorted(lb):
        return f"logged steps differ ({len(la)} vs {len(lb)})"
    worst = max(abs(x - y) for s in la for x, y in zip(la[s], lb[s]))
    if worst > 1e-6:
        return f"losses differ by {worst:.3g}"
    bad = [k for k in wa if not torch.equal(wa[k], wb[k])]
    return f"weights differ: {bad[:3]}" if bad else ""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="/tmp/ganforge-killtest")
    ap.add_argument("--steps", type=int, default=1200, help="training length (generator steps)")
    args = ap.parse_args()
    overrides = [o for o in OVERRIDES if not o.startswith("train.steps=")] + [f"train.steps={args.steps}"]
    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    rng = random.Random(args.seed)

    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "ganforge", "train", "--no-progress", "--run-dir",
                             str(out / "reference"), *overrides], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    while not (out / "reference" / "checkpoints" / "last.pt").exists() and proc.poll() is None:
        time.sleep(0.01)
    t_first = time.perf_counter()
    if proc.wait() != 0:
        raise SystemExit(f"the reference run failed: {proc.stderr.read()[-500:]}")
    span = time.perf_counter() - t_first  # kills fall uniformly in the training after the first checkpoint
    reference = final_state(out / "reference")
    print(f"reference run: {time.perf_counter() - t0:.1f} s, {span:.1f} s of it after the first checkpoint")

    failures = 0
    for trial in range(args.trials):
        run = out / f"trial_{trial:02d}"
        proc = subprocess.Popen([sys.executable, "-m", "ganforge", "train", "--no-progress", "--run-dir", str(run),
                                 *overrides], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while not (run / "checkpoints" / "last.pt").exists() and proc.poll() is None:
            time.sleep(0.01)
        delay = rng.uniform(0.0, 0.65 * span)  # the end of the span is the final grid and process exit
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        leftovers = sorted(p.name for p in (run / "checkpoints").iterdir())
        problem = ""
        try:
            s = ganforge("sample", str(run), "--out", str(run / "after_kill.png"))
            fell_back = "warning:" in s.stderr
            from ganforge.training.checkpoint import load_checkpoint

            killed_at = load_checkpoint(run)["step"]
            ganforge("train", "--no-progress", "--resume", str(run))
            problem = same(final_state(run), reference)
        except AssertionError as exc:
            problem, killed_at, fell_back = str(exc), "?", False
        status = "ok" if not problem else f"FAIL: {problem}"
        failures += bool(problem)
        print(f"trial {trial:2d}: killed {delay:.2f} s after the first checkpoint, at step {killed_at}; "
              f"files {leftovers}; {'fallback to last.prev.pt; ' if fell_back else ''}{status}", flush=True)
    print(f"{args.trials - failures}/{args.trials} trials passed in {time.perf_counter() - t0:.0f} s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
