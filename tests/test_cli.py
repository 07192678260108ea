"""The command line: one clear line for bad input, sampling outputs, Ctrl-C in a real process."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ganforge.cli import main

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
FAST = ["train.steps=6", "log.every=2", "log.sample_every=3", "log.progress=false", "log.tensorboard=false"]


def one_line_error(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err
    return err


def test_wrong_config_key(capsys):
    err = one_line_error(capsys, ["train", str(CONFIGS / "classic_mnist.toml"), "train.epoch=3"])
    assert "did you mean 'epochs'" in err


def test_missing_data_directory(capsys, tmp_path):
    err = one_line_error(capsys, ["train", str(CONFIGS / "classic_mnist.toml"), f"data.root={tmp_path}/nowhere",
                                  "data.download=false"])
    assert "missing data file" in err and "nowhere/mnist" in err


def test_corrupt_data_file(capsys, fake_mnist):
    path = fake_mnist / "mnist" / "train-labels-idx1-ubyte.gz"
    path.write_bytes(b"garbage")
    err = one_line_error(capsys, ["train", str(CONFIGS / "classic_mnist.toml"), *FAST])
    assert "corrupt data file" in err and "train-labels-idx1-ubyte.gz" in err


def test_corrupt_checkpoint(capsys, tmp_path):
    ck = tmp_path / "run" / "checkpoints"
    ck.mkdir(parents=True)
    (ck / "last.pt").write_bytes(b"\x00" * 100)
    for argv in (["train", "--resume", str(tmp_path / "run")], ["sample", str(tmp_path / "run")]):
        err = one_line_error(capsys, argv)
        assert "corrupt or unreadable checkpoint" in err


def test_train_then_sample_images(capsys, fake_mnist):
    assert main(["train", str(CONFIGS / "mlp_mnist.toml"), *FAST, "data.batch_size=32"]) == 0
    out = capsys.readouterr().out
    assert "run directory: runs/mlp_mnist" in out
    assert main(["sample", "runs/mlp_mnist", "--n", "10", "--out", "s.npz", "--seed", "3"]) == 0
    images = np.load("s.npz")["images"]
    assert images.shape == (10, 1, 28, 28) and images.dtype == np.uint8
    assert main(["sample", "runs/mlp_mnist", "--n", "10", "--out", "s2.npz", "--seed", "3"]) == 0
    assert np.array_equal(np.load("s2.npz")["images"], images)  # --seed makes it repeatable
    assert main(["sample", "runs/mlp_mnist", "--n", "16", "--out", "grid.png"]) == 0
    assert Image.open("grid.png").size == (2 * (4 * 30 + 2),) * 2


def test_sample_toy_points_and_scatter(capsys):
    assert main(["train", str(CONFIGS / "ring8.toml"), *FAST, "--run-dir", "toy"]) == 0
    assert main(["sample", "toy", "--n", "500", "--out", "p.npz"]) == 0
    pts = np.load("p.npz")["points"]
    assert pts.shape == (500, 2) and pts.dtype == np.float32
    assert main(["sample", "toy", "--n", "500", "--out", "p.png"]) == 0
    assert Image.open("p.png").size[0] > 200
    err = one_line_error(capsys, ["sample", "toy", "--out", "p.jpg"])
    assert ".png or .npz" in err


def test_ctrl_c_in_a_real_process(tmp_path):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    cmd = [sys.executable, "-m", "ganforge", "train", str(CONFIGS / "ring8.toml"), "train.steps=1000000",
           "log.every=10", "log.checkpoint_every=0", "log.tensorboard=false", "--run-dir", "r", "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    metrics = Path("r/metrics.jsonl")
    deadline = time.time() + 300  # generous: a loaded machine can take long to import torch
    while time.time() < deadline and not (metrics.exists() and metrics.stat().st_size > 0):
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.1)
    assert metrics.exists(), "training never logged a step"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "continue with: ganforge train --resume r" in err
    assert Path("r/checkpoints/last.pt").is_file()
