import json
import os
import signal
from pathlib import Path

import pytest
import torch

from conftest import small_config
from ganforge.errors import GanforgeError
from ganforge.training.callbacks import Callback
from ganforge.training.run import resume, train
from ganforge.training.trainer import TrainingDiverged


def losses(run_dir: Path) -> list[tuple]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [(r["step"], r["d_loss"], r["g_loss"], r["d_real"], r["d_fake"]) for r in rows]


def params(module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in module.parameters()])


MNIST_LIKE = {"data": {"name": "mnist", "batch_size": 16},
              "model": {"g": {"hidden": [32], "output": "tanh", "norm": "batch"},
                        "d": {"hidden": [32], "dropout": 0.3, "activation": "leaky_relu"}},
              "loss": {"real_label": 0.9}}


def test_run_directory_contract(fake_mnist):
    run_dir, trainer, status = train(small_config(**MNIST_LIKE), run_dir="run")
    assert status == "finished" and trainer.step == 20
    assert (run_dir / "config.toml").is_file() and (run_dir / "checkpoints" / "last.pt").is_file()
    assert [p.name for p in sorted((run_dir / "samples").glob("*.png"))] == [
        "step_000000.png", "step_000010.png", "step_000020.png"]
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [5, 10, 15, 20]
    assert set(rows[0]) >= {"step", "epoch", "d_loss", "g_loss", "d_real", "d_fake", "img_per_s"}
    assert 0 < rows[-1]["epoch"] <= 20 * 16 / 256 + 1e-6
    text = (run_dir / "config.toml").read_text()
    assert 'ganforge_version = "' in text and "seed = 0" in text
    import subprocess
    from ganforge.config import tomllib
    from ganforge.version import source_commit

    recorded = tomllib.loads(text)["ganforge_commit"]
    assert recorded == source_commit()
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True)
    if head.returncode == 0:  # a source checkout (CI's clone): the commit that trained the run, +dirty if edited
        assert recorded.split("+")[0] == head.stdout.strip() and recorded in (head.stdout.strip(),
                                                                              head.stdout.strip() + "+dirty")


def test_same_seed_same_run(fake_mnist):
    a, ta, _ = train(small_config(**MNIST_LIKE), run_dir="a")
    b, tb, _ = train(small_config(**MNIST_LIKE), run_dir="b")
    assert losses(a) == losses(b)
    assert torch.equal(params(ta.G), params(tb.G))
    c, tc, _ = train(small_config(seed=1, **MNIST_LIKE), run_dir="c")
    assert losses(a) != losses(c)


@pytest.mark.parametrize("data", ["mnist", "ring8"])
def test_resume_gives_the_same_numbers(fake_mnist, data):
    """2N steps in one go == N steps + resume + N steps (losses to 1e-6, weights exactly)."""
    sections = dict(MNIST_LIKE) if data == "mnist" else {}
    sections["train"] = {"steps": 24, "d_steps": 2}
    sections["log"] = {"every": 1, "checkpoint_every": 0}
    full, t_full, _ = train(small_config(**sections), run_dir="full")
    sections["train"] = {"steps": 12, "d_steps": 2}
    half, _, _ = train(small_config(**sections), run_dir="half")
    _, t_res, status = resume(half, ["train.steps=24"])
    assert status == "finished" and t_res.step == 24
    got, want = losses(half), losses(full)
    assert [r[0] for r in got] == list(range(1, 25))
    for g, w in zip(got, want):
        assert g[0] == w[0] and g[1:] == pytest.approx(w[1:], abs=1e-6)
    assert torch.equal(params(t_res.G), params(t_full.G)) and torch.equal(params(t_res.D), params(t_full.D))


class SendSignal(Callback):
    def __init__(self, at: int, sig=signal.SIGINT):
        self.at, self.sig = at, sig

    def on_step(self, trainer):
        if trainer.step == self.at:
            os.kill(os.getpid(), self.sig)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_and_sigterm_save_and_stop(sig, capsys):
    before = signal.getsignal(sig)
    run_dir, trainer, status = train(small_config(log={"checkpoint_every": 0}), run_dir="r",
                                     callbacks=[SendSignal(7, sig)])
    assert status == "interrupted" and trainer.step == 7
    from ganforge.training.checkpoint import load_checkpoint

    assert load_checkpoint(run_dir)["step"] == 7
    err = capsys.readouterr().err
    assert f"saved {run_dir}/checkpoints/last.pt" in err and f"ganforge train --resume {run_dir}" in err
    assert signal.getsignal(sig) is before  # the caller's handler is restored
    _, t2, status = resume(run_dir)
    assert status == "finished" and t2.step == 20


class PoisonWeights(Callback):
    def on_step(self, trainer):
        if trainer.step == 12:
            with torch.no_grad():
                next(trainer.G.parameters()).fill_(float("nan"))


def test_nan_stops_and_keeps_last_good_checkpoint():
    with pytest.raises(TrainingDiverged) as e:
        train(small_config(), run_dir="r", callbacks=[PoisonWeights()])
    msg = str(e.value)
    assert "diverged at step 15" in msg and "nan" in msg and "last good checkpoint" in msg and "\n" not in msg
    from ganforge.training.checkpoint import load_checkpoint

    state = load_checkpoint(Path("r"))
    assert state["step"] == 10 and all(torch.isfinite(v).all() for v in state["g"].values())
    assert not Path("r/samples/step_000015.png").exists()


def test_checkpoint_never_saves_nan_weights():
    class PoisonBeforeCheckpoint(Callback):
        def on_step(self, trainer):
            if trainer.step == 9:
                with torch.no_grad():
                    next(trainer.D.parameters()).fill_(float("inf"))

    with pytest.raises(TrainingDiverged, match="discriminator's weights|diverged at step 10"):
        train(small_config(log={"every": 50}), run_dir="r", callbacks=[PoisonBeforeCheckpoint()])
    assert not Path("r/checkpoints/last.pt").exists()


def test_resume_with_mismatched_config_is_one_line():
    run_dir, _, _ = train(small_config(), run_dir="r")
    with pytest.raises(GanforgeError, match="does not match the models"):
        resume(run_dir, ["model.g.hidden=[64]", "train.steps=40"])


def test_new_runs_never_overwrite_old_ones():
    a, _, _ = train(small_config())
    b, _, _ = train(small_config())
    assert a != b and a.name == "t" and b.name == "t-2"
    with pytest.raises(GanforgeError, match="already holds a run"):
        train(small_config(), run_dir=a)
