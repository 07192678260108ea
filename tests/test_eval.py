"""``ganforge eval``: run directories, .npz files, baselines, caching, periodic evaluation."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import small_config
from ganforge.cli import main
from ganforge.errors import GanforgeError
from ganforge.evaluation.run import run_eval
from ganforge.evaluation import evaluate_points, evaluate_samples
from ganforge.training.run import train


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "stats"))


def test_true_toy_samples_cover_every_mode():
    from ganforge.config import DataConfig
    from ganforge.data import build_data

    for name, k in (("ring8", 8), ("grid25", 25)):
        pts = build_data(DataConfig(name=name, batch_size=2500), seed=0).next()[0].numpy()
        r = evaluate_points(pts, name, ["modes"])
        assert r["modes"] == k and r["num_modes"] == k
        assert r["high_quality"] >= 0.985 and r["reverse_kl"] < 0.01
        collapsed = np.repeat(pts[:1], 2500, axis=0)
        r = evaluate_points(collapsed, name, ["modes"])
        assert r["modes"] == 1 and r["reverse_kl"] == pytest.approx(np.log(k))


def test_eval_a_run_directory_and_its_records(fake_mnist, capsys):
    run_dir, _, _ = train(small_config(data={"name": "mnist", "batch_size": 16},
                                       model={"g": {"output": "tanh"}}), run_dir="run")
    result = run_eval("run", "fid,kid,is,prdc", n=200, progress=False)
    assert result["step"] == 20 and result["n"] == 200 and result["data"] == "mnist"
    assert result["fid"] > 0 and 1 <= result["is_mean"] <= 10
    assert 0 <= result["precision"] <= 1 and 0 <= result["coverage"] <= 1
    assert json.loads(Path("run/eval.json").read_text())["fid"] == result["fid"]
    last = json.loads(Path("run/metrics.jsonl").read_text().splitlines()[-1])
    assert last["step"] == 20 and last["eval"]["fid"] == result["fid"]
    cached = list(Path(".").glob("stats/mnist_test_mnist_classifier-*.npz"))
    assert len(cached) == 1
    mtime = cached[0].stat().st_mtime_ns
    again = run_eval("run", "fid", n=200, progress=False)
    assert again["fid"] == pytest.approx(result["fid"], rel=1e-9) and cached[0].stat().st_mtime_ns == mtime


def test_eval_cli_on_npz_and_baseline(fake_mnist, capsys):
    train(small_config(data={"name": "mnist", "batch_size": 16}, model={"g": {"output": "tanh"}}), run_dir="run")
    assert main(["sample", "run", "--n", "100", "--out", "s.npz"]) == 0
    assert main(["eval", "s.npz", "--metrics", "fid,is", "--json", "out.json", "--no-progress"]) == 0
    out = json.loads(Path("out.json").read_text())
    assert out["data"] == "mnist" and out["n"] == 100 and "fid" in out
    assert main(["eval", "--real-baseline", "mnist", "--n", "200", "--metrics", "fid,accuracy", "--json", "b.json",
                 "--no-progress"]) == 0
    base = json.loads(Path("b.json").read_text())
    assert base["n"] == 200 and base["fid"] < out["fid"]


def test_eval_errors_are_one_line(fake_mnist, capsys):
    for argv, text in ((["eval", "nowhere.npz"], "cannot read samples file"),
                       (["eval", "--real-baseline", "mnist", "--metrics", "fdi"], "did you mean 'fid'"),
                       (["eval", "--real-baseline", "ring8", "--metrics", "fid"], "supports only the 'modes'")):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert text in err and "\n" not in err


def test_accuracy_needs_labels():
    with pytest.raises(GanforgeError, match="labelled samples"):
        evaluate_samples({"images": np.zeros((4, 1, 28, 28), np.uint8)}, "mnist", ["accuracy"])


def test_periodic_eval_keeps_best_checkpoint(fake_mnist):
    cfg = small_config(data={"name": "mnist", "batch_size": 16}, model={"g": {"output": "tanh"}},
                       train={"steps": 30}, eval={"every": 10, "n": 100, "metrics": ["fid"]})
    run_dir, _, _ = train(cfg, run_dir="run")
    evals = [json.loads(line) for line in Path("run/metrics.jsonl").read_text().splitlines() if "eval" in line]
    assert [e["step"] for e in evals] == [10, 20, 30]
    best = json.loads(Path("run/checkpoints/best.json").read_text())
    assert best["fid"] == min(e["eval"]["fid"] for e in evals)
    from ganforge.training.checkpoint import load_checkpoint

    assert load_checkpoint(Path("run/checkpoints/best.pt"))["step"] == best["step"]
