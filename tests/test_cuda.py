"""The GPU path (skipped cleanly without CUDA): data on the GPU, pinned host data, fp16/bf16 autocast,
a one-process torchrun run."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from conftest import small_config
from ganforge.training.run import resume, train

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")

DCGAN = {"data": {"name": "ring8", "batch_size": 32}, "train": {"steps": 12, "device": "cuda"}}


@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp16"])
def test_cuda_training_in_each_precision_resumes(precision):
    cfg = small_config(**{**DCGAN, "train": {**DCGAN["train"], "precision": precision}})
    run_dir, trainer, status = train(cfg, run_dir="r")
    assert status == "finished" and next(trainer.G.parameters()).is_cuda
    _, t2, status = resume(run_dir, ["train.steps=20"])
    assert status == "finished" and t2.step == 20


def test_host_data_is_pinned_and_uploaded(fake_mnist):
    cfg = small_config(data={"name": "mnist", "batch_size": 16, "device": "cpu"},
                       model={"g": {"output": "tanh"}}, train={"steps": 4, "device": "cuda"})
    _, trainer, status = train(cfg, run_dir="r")
    assert status == "finished" and trainer.data.pinned and trainer.data.images.is_pinned()


def test_one_process_torchrun_on_cuda(tmp_path):
    p = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=1",
                        "-m", "ganforge", "train", "data.name=ring8", "train.steps=20", "train.device=cuda",
                        "train.precision=bf16", "log.progress=false", "--run-dir", "r"],
                       capture_output=True, text=True, timeout=300, env={**os.environ})
    assert p.returncode == 0, p.stderr[-2000:]
