"""``ganforge bench``: both loops are timed in one process and the ratio is printed (the speed goal
itself is checked by running the bench, not by a timed test)."""

from pathlib import Path

from ganforge.cli import main

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
PLAIN = ["loss.r1_gamma=0", "train.ema_kimg=0"]  # the ring8 preset's R1 and EMA are not in the bare loop


def test_bench_prints_trainer_and_bare_loop_rates(capsys):
    assert main(["bench", str(CONFIGS / "ring8.toml"), "model.g.hidden=[16]", "model.d.hidden=[16]", *PLAIN,
                 "--steps", "6", "--warmup", "2", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    lines = {line[2:28].strip(): line[28:].split() for line in out.splitlines() if line.startswith("  ")}
    assert lines["img/s"] == ["fp32", "bf16"]  # side by side
    for row in ("ganforge trainer", "bare PyTorch loop", "textbook loop", "ratio ganforge/bare"):
        assert len(lines[row]) == 2 and all(float(v) > 0 for v in lines[row])
    assert lines["speed-up over fp32"][0] == "1.00x"


def test_bench_one_precision(capsys):
    assert main(["bench", str(CONFIGS / "ring8.toml"), "model.g.hidden=[16]", "model.d.hidden=[16]", *PLAIN,
                 "--steps", "4", "--warmup", "1", "--repeats", "1", "--precision", "bf16"]) == 0
    assert "bf16" in capsys.readouterr().out
    assert main(["bench", "x.toml", "--precision", "fp8"]) == 2


def test_bench_refuses_what_the_bare_loop_cannot_mirror(capsys):
    assert main(["bench", str(CONFIGS / "acgan_mnist.toml")]) == 2
    err = capsys.readouterr().err.strip()
    assert "model.conditioning=none" in err and "train.ema_kimg=0" in err and "\n" not in err
