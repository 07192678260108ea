"""AGE (the faces tutorial's average generated error) and the discriminator's held-out gap."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from ganforge.cli import main
from ganforge.errors import GanforgeError
from ganforge.evaluation.run import run_eval
from ganforge.evaluation.catalog import MetricInputs, compute_metrics
from ganforge.evaluation.discriminator import d_probabilities
from test_folder_eval import CONFIGS, make_folder


def test_age_and_gap_by_hand():
    x = MetricInputs("mnist", 3, d_train=np.array([0.9, 0.7]), d_heldout=np.array([0.8, 0.4]),
                     d_fake=np.array([0.1, 0.3, 0.2]))
    r = compute_metrics(["age"], x)
    assert r["age"] == pytest.approx(((0.2 + 0.6) / 2) ** 2 + 0.2 ** 2)
    assert r["d_real_train"] == pytest.approx(0.8) and r["d_real_heldout"] == pytest.approx(0.6)
    assert r["d_gap"] == pytest.approx(0.2) and r["d_fake"] == pytest.approx(0.2)


class ConstantD(nn.Module):
    def __init__(self, logit: float, pack: int = 1):
        super().__init__()
        self.w = nn.Parameter(torch.tensor(logit))
        self.pack = pack

    def forward(self, x, y=None):
        assert x.min() >= -1 and x.max() <= 1  # uint8 images arrive scaled as in training
        return self.w.expand(x.shape[0] // self.pack)


def test_d_probabilities_are_sigmoids_per_pack():
    images = np.full((10, 1, 4, 4), 255, np.uint8)
    assert d_probabilities(ConstantD(0.0), images) == pytest.approx([0.5] * 10)
    p = d_probabilities(ConstantD(2.0, pack=2), images[:7], batch=4)  # 3 packs of 2; the odd image left out
    assert p == pytest.approx([1 / (1 + np.exp(-2.0))] * 3)


def _folder_run(tmp_path, monkeypatch, val_fraction="0.25", metrics='["fid","age"]'):
    folder = make_folder(tmp_path / "shapes")
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "cache"))
    run = tmp_path / "runs" / "faces"
    assert main(["train", str(CONFIGS / "dcgan_faces64.toml"), f"data.path={folder}", "data.size=16",
                 f"data.val_fraction={val_fraction}", "data.batch_size=16", "model.g.width=8", "model.d.width=8",
                 "train.kimg=0", "train.steps=8", "log.every=4", "log.sample_every=0", "log.progress=false",
                 "log.tensorboard=false", f"eval.every={4 if metrics else 0}", "eval.n=32",
                 f"eval.metrics={metrics or '[]'}", "--run-dir", str(run)]) == 0
    return run


def test_folder_run_reports_age_during_training_and_in_eval(tmp_path, monkeypatch):
    run = _folder_run(tmp_path, monkeypatch)
    evals = [json.loads(line)["eval"] for line in open(run / "metrics.jsonl") if '"eval"' in line]
    assert len(evals) == 2 and all(0 <= e["age"] <= 2 and -1 <= e["d_gap"] <= 1 for e in evals)
    r = run_eval(str(run), None, n=32, progress=False)  # a run's defaults include AGE
    assert {"age", "d_real_train", "d_real_heldout", "d_fake", "d_gap"} <= set(r)
    assert r["age"] == pytest.approx(abs(r["d_real_heldout"] - 1) ** 2 + r["d_fake"] ** 2, rel=1e-6)
    assert r["d_gap"] == pytest.approx(r["d_real_train"] - r["d_real_heldout"])


def test_age_needs_a_held_out_split(tmp_path, monkeypatch):
    run = _folder_run(tmp_path, monkeypatch, val_fraction="0.0", metrics="")
    with pytest.raises(GanforgeError, match="val split.*data.val_fraction"):
        run_eval(str(run), "age", n=16, progress=False)


def test_age_on_an_mnist_run_and_where_it_does_not_fit(fake_mnist, tmp_path, capsys):
    run = tmp_path / "m"
    assert main(["train", str(CONFIGS / "dcgan_mnist.toml"), "train.epochs=0", "train.steps=4", "log.progress=false",
                 "eval.every=0", "model.g.width=8", "model.d.width=8", "--run-dir", str(run)]) == 0
    assert main(["eval", str(run), "--metrics", "age", "--n", "48"]) == 0
    out = capsys.readouterr().out
    assert "age" in out and "d_gap" in out
    assert main(["eval", "--real-baseline", "mnist", "--metrics", "age"]) == 2  # no discriminator there
    assert "reads a run's discriminator" in capsys.readouterr().err
