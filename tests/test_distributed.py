"""Data-parallel training with torchrun on the CPU (gloo): 2 processes x half the batch compute what
1 process with the whole batch computes; rank 0 alone writes the run; resume works across process counts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

BASE = ["name=t", "data.name=ring8", "data.batch_size=64", "model.latent_dim=4", "model.g.hidden=[32,32]",
        "model.g.output=none", "model.d.hidden=[32,32]", "train.steps=20", "log.every=1", "log.sample_every=0",
        "log.checkpoint_every=5", "log.n_samples=16", "log.tensorboard=false", "log.progress=false"]
BN = ["model.g.norm=batch", "model.d.norm=batch"]


def ganforge(nproc: int, *args: str, timeout: int = 180) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    if nproc == 1:
        cmd = [sys.executable, "-m", "ganforge", *args]
    else:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
               "-m", "ganforge", *args]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                         start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)  # torchrun and its workers
    assert p.returncode == 0, f"{' '.join(cmd)}\n{out[-2000:]}\n{err[-3000:]}"
    return subprocess.CompletedProcess(cmd, p.returncode, out, err)


def records(run_dir) -> list[dict]:
    return [json.loads(line) for line in Path(run_dir, "metrics.jsonl").read_text().splitlines()
            if "eval" not in json.loads(line)]


def assert_same(a, b, tol=1e-5):
    ra, rb = records(a), records(b)
    assert [r["step"] for r in ra] == [r["step"] for r in rb]
    for x, y in zip(ra, rb):
        for key in ("d_loss", "g_loss", "d_real", "d_fake"):
            assert x[key] == pytest.approx(y[key], abs=tol), (x["step"], key, x[key], y[key])


def max_diff(a, b) -> float:
    return max(abs(x[k] - y[k]) for x, y in zip(records(a), records(b)) for k in ("d_loss", "g_loss"))


def test_two_processes_compute_what_one_process_computes():
    ganforge(1, "train", *BASE, "--run-dir", "one")
    p = ganforge(2, "train", *BASE)  # the default run name: rank 0 alone claims it
    assert_same("one", "runs/t")
    assert sorted(os.listdir("runs")) == ["t"]  # rank 1 created nothing
    steps = [r["step"] for r in records("runs/t")]
    assert steps == list(range(1, 21))  # one line per step: rank 0 alone writes metrics.jsonl
    assert p.stdout.count("run directory: runs/t") == 1


def test_sync_batch_norm_matches_one_process_and_per_rank_bn_does_not():
    ganforge(1, "train", *BASE, *BN, "--run-dir", "one")
    ganforge(2, "train", *BASE, *BN, "model.sync_bn=true", "--run-dir", "sync")
    assert_same("one", "sync")
    ganforge(2, "train", *BASE, *BN, "--run-dir", "per_rank")
    assert max_diff("one", "per_rank") > 1e-4  # per-rank statistics really are different


def test_distributed_resume_and_resume_on_another_process_count():
    ganforge(1, "train", *BASE, "--run-dir", "full")
    short = [a for a in BASE if not a.startswith("train.steps")] + ["train.steps=10"]
    ganforge(2, "train", *short, "--run-dir", "two_two")
    ganforge(2, "train", "--resume", "two_two", "train.steps=20")
    assert_same("full", "two_two")
    ganforge(1, "train", *short, "--run-dir", "one_two")
    ganforge(2, "train", "--resume", "one_two", "train.steps=20")
    assert_same("full", "one_two")


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(c) for c in path.read_text().split()] if path.exists() else []


def test_sigterm_on_one_rank_saves_once_and_stops_all(tmp_path):
    args = [a for a in BASE if not a.startswith(("train.steps", "log.checkpoint_every"))]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    p = subprocess.Popen([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                          "-m", "ganforge", "train", *args, "train.steps=100000", "log.checkpoint_every=0",
                          "--run-dir", "r"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                         start_new_session=True)
    try:
        deadline = time.time() + 120
        while not (Path("r/metrics.jsonl").exists() and Path("r/metrics.jsonl").read_text().count("\n") >= 5):
            assert time.time() < deadline and p.poll() is None, p.communicate()[1][-2000:]
            time.sleep(0.1)
        workers = _children(p.pid)
        ranks = {}
        for w in workers:
            env_w = Path(f"/proc/{w}/environ").read_bytes().split(b"\0")
            rank = [e for e in env_w if e.startswith(b"RANK=")]
            if rank:
                ranks[int(rank[0][5:])] = w
        assert set(ranks) == {0, 1}, workers
        os.kill(ranks[1], signal.SIGTERM)  # only rank 1 is told to stop
        out, err = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)  # torchrun and its workers: never leave a training behind
    assert "SIGTERM" in err
    from ganforge.training.checkpoint import load_checkpoint

    state = load_checkpoint("r")
    assert 5 <= state["step"] < 100000
    assert "stopped at step" in err and err.count("saved r/checkpoints/last.pt") == 1
    ganforge(2, "train", "--resume", "r", f"train.steps={state['step'] + 3}")
    assert load_checkpoint("r")["step"] == state["step"] + 3
