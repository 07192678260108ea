"""``ganforge bench``: both loops are timed in one process and the ratio is printed (the speed goal
itself is checked by running the bench, not by a timed test); beside them the model FLOPs, achieved
FLOP/s and the fraction of the matmul peak measured in the same process."""

import json
from pathlib import Path

import pytest

from ganforge.build import build_experiment
from ganforge.cli import main
from ganforge.choices import load_config
from ganforge.flops import step_flops

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
PLAIN = ["loss.r1_gamma=0", "train.ema_kimg=0"]  # the ring8 preset's R1 and EMA are not in the bare loop


def test_bench_prints_trainer_and_bare_loop_rates(capsys, tmp_path):
    overrides = ["model.g.hidden=[16]", "model.d.hidden=[16]", *PLAIN]
    assert main(["bench", str(CONFIGS / "ring8.toml"), *overrides, "--steps", "6", "--warmup", "2", "--repeats", "1",
                 "--peak-size", "128", "--json", str(tmp_path / "bench.json")]) == 0
    out = capsys.readouterr().out
    lines = {line[2:28].strip(): line[28:].split() for line in out.splitlines() if line.startswith("  ")}
    assert lines["img/s"] == ["fp32", "bf16"]  # side by side
    for row in ("ganforge trainer", "bare PyTorch loop", "textbook loop", "ratio ganforge/bare", "trainer GFLOP/s",
                "matmul peak GFLOP/s", "fraction of peak"):
        assert len(lines[row]) == 2 and all(float(v) > 0 for v in lines[row])
    assert lines["speed-up over fp32"][0] == "1.00x"
    result = json.loads((tmp_path / "bench.json").read_text())
    exp = build_experiment(load_config(str(CONFIGS / "ring8.toml"), overrides), progress=False)
    flops = step_flops(exp.cfg, exp.G, exp.D)
    assert result["flops_per_step"]["total"] == flops.total and f"{flops.total / 1e9:.4g} GFLOP/step" in out
    assert result["peak_matmul"] == {"size": 128, "repeats": 5, "threads": result["threads"]}
    for p in ("fp32", "bf16"):  # FLOPs/step x steps/s; the fraction is of this precision's own peak
        steps_per_s = result["img_per_s"][p]["ganforge"] / result["batch_size"]
        assert result["gflop_per_s"][p]["ganforge"] == pytest.approx(flops.total * steps_per_s / 1e9, rel=0.01)
        assert result["gflop_per_s"][p]["textbook"] == pytest.approx(
            (flops.total + flops.textbook_extra) * result["img_per_s"][p]["textbook"] / result["batch_size"] / 1e9, rel=0.01)
        assert result["fraction_of_peak"][p] == pytest.approx(
            result["gflop_per_s"][p]["ganforge"] / result["peak_gflop_per_s"][p], rel=0.01)


def test_bench_one_precision(capsys):
    assert main(["bench", str(CONFIGS / "ring8.toml"), "model.g.hidden=[16]", "model.d.hidden=[16]", *PLAIN,
                 "--steps", "4", "--warmup", "1", "--repeats", "1", "--precision", "bf16", "--peak-size", "64"]) == 0
    assert "bf16" in capsys.readouterr().out
    assert main(["bench", "x.toml", "--precision", "fp8"]) == 2


def test_bench_times_the_trainer_alone_where_the_bare_loop_cannot_mirror_it(capsys, tmp_path):
    """ring8 as shipped has R1 and EMA, which the bare loops leave out: the trainer alone, its FLOP/s and fraction
    of the peak, no ratios, and a line naming the settings."""
    assert main(["bench", str(CONFIGS / "ring8.toml"), "model.g.hidden=[16]", "model.d.hidden=[16]", "--steps", "4",
                 "--warmup", "1", "--repeats", "1", "--precision", "fp32", "--peak-size", "64",
                 "--json", str(tmp_path / "bench.json")]) == 0
    out = capsys.readouterr().out
    assert "ganforge trainer" in out and "bare PyTorch loop" not in out and "ratio" not in out
    assert "the trainer alone" in out and "loss.r1_gamma=0 train.ema_kimg=0" in out
    result = json.loads((tmp_path / "bench.json").read_text())
    assert result["trainer_only"] == ["loss.r1_gamma=0", "train.ema_kimg=0"]
    assert set(result["img_per_s"]["fp32"]) == {"ganforge"} and result["ratio_vs_bare"] == {}
    assert result["fraction_of_peak"]["fp32"] == pytest.approx(
        result["gflop_per_s"]["fp32"]["ganforge"] / result["peak_gflop_per_s"]["fp32"], rel=0.01)
