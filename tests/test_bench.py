"""``ganforge bench``: both loops are timed in one process and the ratio is printed (the speed goal
itself is checked by running the bench, not by a timed test)."""

from pathlib import Path

from ganforge.cli import main

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def test_bench_prints_trainer_and_bare_loop_rates(capsys):
    assert main(["bench", str(CONFIGS / "ring8.toml"), "model.g.hidden=[16]", "model.d.hidden=[16]",
                 "--steps", "6", "--warmup", "2", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "ganforge trainer" in out and "bare PyTorch loop" in out and "ratio ganforge/bare" in out
    rates = [float(line.split(":")[1].split("img/s")[0]) for line in out.splitlines() if "img/s" in line]
    assert len(rates) == 3 and all(r > 0 for r in rates)


def test_bench_refuses_what_the_bare_loop_cannot_mirror(capsys):
    assert main(["bench", str(CONFIGS / "acgan_mnist.toml")]) == 2
    err = capsys.readouterr().err.strip()
    assert "model.conditioning=none" in err and "train.ema_kimg=0" in err and "\n" not in err
