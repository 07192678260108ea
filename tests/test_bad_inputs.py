"""Bad inputs and faults, as a careless user or an unlucky machine produces them.

Each test asserts what the user sees (one ``error:`` line, the exit status) and that no earlier
checkpoint was lost. The causes follow issue 10: errors outside ganforge's own type, config
values, CLI numbers and suffixes, signals during shutdown, kills during a checkpoint write,
truncated checkpoints, concurrent writers, silent download mirrors, noise, lazy R1.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from conftest import small_config
from ganforge import cli, files
from ganforge.errors import GanforgeError
from ganforge.runs import RunDir, RunLock, claim_new
from ganforge.training import checkpoint as ckpt
from ganforge.training.callbacks import Callback
from ganforge.training.checkpoint import load_checkpoint
from ganforge.training.run import resume, train

TOY = ["data.name=ring8", "data.batch_size=32", "model.latent_dim=4", "model.g.hidden=[32]", "model.g.output=none",
       "model.d.hidden=[32]", "train.steps=20", "log.every=5", "log.sample_every=10", "log.checkpoint_every=10",
       "log.n_samples=16", "log.tensorboard=false"]


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(err: str) -> str:
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]


def toy_run(path="r", **sections) -> Path:
    run_dir, _, status = train(small_config(**sections), run_dir=path)
    assert status == "finished"
    return run_dir


# ------------------------------------------------------------------ errors outside GanforgeError
def test_output_folder_under_a_file_is_one_line(capsys):
    Path("afile").write_text("x")
    code, _, err = run_cli(capsys, "train", "--no-progress", *TOY, "log.out_dir=afile/runs")
    line = one_error_line(err)
    assert code == 1 and "afile" in line


def test_permission_error_is_one_line_and_keeps_the_checkpoint(capsys, monkeypatch):
    run_dir = toy_run()
    before = (run_dir / "checkpoints" / "last.pt").read_bytes()

    def refuse(*a, **k):
        raise PermissionError(13, "Permission denied", str(run_dir / "checkpoints"))

    monkeypatch.setattr(files.tempfile, "mkstemp", refuse)  # a read-only checkpoints folder
    code, _, err = run_cli(capsys, "train", "--no-progress", "--resume", run_dir, "train.steps=40")
    line = one_error_line(err)
    assert code == 1 and "Permission denied" in line and "write to" in line
    assert (run_dir / "checkpoints" / "last.pt").read_bytes() == before
    assert not list((run_dir / "checkpoints").glob(".*.tmp"))


def test_unwritable_sample_path_is_one_line(capsys):
    run_dir = toy_run()
    code, _, err = run_cli(capsys, "sample", run_dir, "--out", "/proc/ganforge/x.png")
    assert code == 1 and "/proc/ganforge" in one_error_line(err)


def test_value_error_from_a_library_is_one_line_and_debug_shows_it(capsys, monkeypatch):
    run_dir = toy_run()
    import ganforge.sampling as sampling

    def broken(*a, **k):
        raise ValueError("cannot write mode RGBA as JPEG")

    monkeypatch.setattr(sampling, "save_scatter", broken)
    code, _, err = run_cli(capsys, "sample", run_dir, "--out", "x.png")
    line = one_error_line(err)
    assert code == 1 and "ValueError: cannot write mode RGBA as JPEG" in line and "--debug" in line
    with pytest.raises(ValueError):
        cli.main(["--debug", "sample", str(run_dir), "--out", "x.png"])
    monkeypatch.setenv("GANFORGE_DEBUG", "1")
    with pytest.raises(ValueError):
        cli.main(["sample", str(run_dir), "--out", "x.png"])


def test_ctrl_c_during_start_up_is_one_line(capsys, monkeypatch):
    import ganforge.training.run as run_mod

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(run_mod, "build_experiment", interrupted)
    code, _, err = run_cli(capsys, "train", "--no-progress", *TOY)
    assert code == 130 and "interrupted" in one_error_line(err)


# ------------------------------------------------------------------ config values
@pytest.mark.parametrize("overrides, key", [
    (["optim.g_lr=-0.001"], "optim.g_lr"),
    (["optim.d_lr=0"], "optim.d_lr"),
    (["optim.betas=[1.0, 0.99]"], "optim.betas"),
    (["optim.betas=[0.5, -0.1]"], "optim.betas"),
    (["optim.weight_decay=-1"], "optim.weight_decay"),
    (["optim.name=sgd", "optim.momentum=-0.9"], "optim.momentum"),
    (["optim.eps=0"], "optim.eps"),
    (["optim.g_lr=nan"], "optim.g_lr"),
    (["data.batch_size=1", "model.g.norm=batch"], "batch norm"),
    (["data.batch_size=4", "model.d.pack=4", "model.d.norm=batch"], "batch norm"),
    (["model.g.arch=dcgan", "model.g.width=0"], "model.g.width"),
    (["model.d.hidden=[32, 0]"], "model.d.hidden"),
    (["train.ema_kimg=-1"], "train.ema_kimg"),
    (["train.d_ema_kimg=-1"], "train.d_ema_kimg"),
    (["log.checkpoint_every=-5"], "log.checkpoint_every"),
    (["eval.metrics=[\"fdi\"]"], "fdi"),
    (["eval.every=10", "eval.metrics=[\"fid\"]"], "fid"),  # ring8 has no FID: fails before training
    (["loss.name=hinj"], "loss.name"),
    (["optim.schedule=cosine"], "optim.schedule"),
])
def test_bad_config_values_fail_before_training(capsys, overrides, key):
    code, _, err = run_cli(capsys, "train", "--no-progress", *TOY, *overrides)
    line = one_error_line(err)
    assert code == 2 and key in line, line
    assert not Path("runs").exists()  # nothing was created, nothing was trained


def test_eval_metric_that_does_not_fit_names_the_data_set(capsys, fake_mnist):
    code, _, err = run_cli(capsys, "train", "--no-progress", "data.name=mnist", "train.steps=2", "eval.every=1",
                           "eval.metrics=[\"modes\"]")
    assert code == 2 and "modes" in one_error_line(err)


# ------------------------------------------------------------------ CLI numbers and suffixes
@pytest.mark.parametrize("argv, what", [
    (["sample", "RUN", "--nrow", "-1"], "--nrow"),
    (["sample", "RUN", "--n", "0"], "--n"),
    (["sample", "RUN", "--out", "x.jpg"], "--out"),
    (["interpolate", "RUN", "--out", "x.gif"], "--out"),
    (["interpolate", "RUN", "--steps", "1"], "--steps"),
    (["report", "RUN", "--gif", "x.png"], "--gif"),
    (["bench", "CFG", "--steps", "0"], "--steps"),
    (["bench", "CFG", "--repeats", "0"], "--repeats"),
    (["train-classifier", "--data", "mnist", "--epochs", "0"], "--epochs"),
    (["eval", "RUN", "--n", "-5"], "--n"),
    (["eval", "RUN", "--json", "out.txt"], "--json"),
])
def test_cli_numbers_and_suffixes_are_checked_first(capsys, argv, what):
    code, _, err = run_cli(capsys, *argv)  # RUN / CFG need not exist: arguments are checked first
    line = one_error_line(err)
    assert code == 2 and what in line, line


# ------------------------------------------------------------------ signals during shutdown
class SignalAt(Callback):
    """First SIGINT at step ``at``; more SIGINTs in the middle of the final checkpoint write and
    during the slow end-of-run work that follows it."""

    def __init__(self, at: int):
        self.at = at

    def on_step(self, trainer):
        if trainer.step == self.at:
            os.kill(os.getpid(), signal.SIGINT)


def test_second_ctrl_c_during_the_save_cannot_lose_the_checkpoint(capsys, monkeypatch):
    real_save = torch.save
    calls = []

    def save_while_user_hammers_ctrl_c(obj, f, *a, **k):
        calls.append(1)
        if len(calls) == 1:  # the final save: Ctrl-C twice while it writes
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)
        return real_save(obj, f, *a, **k)

    import ganforge.training.callbacks as callbacks

    real_write = callbacks.SampleWriter.write

    def slow_end_plot(self, trainer):
        if trainer.stop_reason:  # Ctrl-C during the end-of-run plot, after the save
            os.kill(os.getpid(), signal.SIGINT)
        return real_write(self, trainer)

    monkeypatch.setattr(ckpt.torch, "save", save_while_user_hammers_ctrl_c)
    monkeypatch.setattr(callbacks.SampleWriter, "write", slow_end_plot)
    run_dir, trainer, status = train(small_config(log={"checkpoint_every": 0, "sample_every": 0}), run_dir="r",
                                     callbacks=[SignalAt(7)])
    assert status == "interrupted" and trainer.step == 7
    assert load_checkpoint(run_dir)["step"] == 7
    err = capsys.readouterr().err
    assert "still saving" in err and "continue with: ganforge train --resume r" in err
    _, t2, status = resume(run_dir)
    assert status == "finished" and t2.step == 20


def test_final_checkpoint_is_written_before_the_end_of_run_plot():
    order = []

    class Plot(Callback):
        def on_end(self, trainer, status):
            order.append(("plot", Path("r/checkpoints/last.pt").exists()))

    train(small_config(log={"checkpoint_every": 0}), run_dir="r", callbacks=[Plot()])
    assert order == [("plot", True)]


# ------------------------------------------------------------------ kills and truncation
def test_kill_between_link_and_rename_leaves_a_loadable_last(monkeypatch):
    run_dir = toy_run()
    run = RunDir(run_dir)
    step_before = load_checkpoint(run.last)["step"]
    real_replace = os.replace

    def die_at_the_rename(src, dst):
        if Path(dst).name == "last.pt":
            raise SystemExit("killed")  # the process dies right before the new file is renamed in
        return real_replace(src, dst)

    with monkeypatch.context() as m, pytest.raises(SystemExit):
        m.setattr(ckpt.os, "replace", die_at_the_rename)
        resume(run_dir, ["train.steps=30"])
    assert load_checkpoint(run.last)["step"] == step_before  # never a moment without last.pt
    assert load_checkpoint(run.prev)["step"] == step_before
    _, t, status = resume(run_dir, ["train.steps=30"])
    assert status == "finished" and t.step == 30
    assert not list(run.checkpoints.glob(".*.tmp"))  # the stray temp file was cleaned up under the lock


def test_truncated_last_falls_back_to_prev(capsys):
    run_dir = toy_run()
    run = RunDir(run_dir)
    assert load_checkpoint(run.prev)["step"] == 10 and load_checkpoint(run.last)["step"] == 20
    data = run.last.read_bytes()
    run.last.write_bytes(data[: len(data) // 3])  # a disk that filled up mid-write, an rsync cut short
    code, _, err = run_cli(capsys, "sample", run_dir, "--out", "s.png")
    assert code == 0 and Path("s.png").is_file()
    assert "warning:" in err and "last.prev.pt (step 10)" in err and len(err.strip().splitlines()) == 1
    _, t, status = resume(run_dir, ["train.steps=20"])
    assert status == "finished" and t.step == 20
    assert (run.checkpoints / "last.corrupt.pt").read_bytes() == data[: len(data) // 3]  # kept, not rotated over prev
    assert load_checkpoint(run.prev)["step"] == 10 and load_checkpoint(run.last)["step"] == 20


def test_missing_last_falls_back_to_prev(capsys):
    run_dir = toy_run()
    (run_dir / "checkpoints" / "last.pt").unlink()
    code, _, err = run_cli(capsys, "sample", run_dir, "--out", "s.npz")
    assert code == 0 and "missing" in err and "last.prev.pt" in err


def test_resume_from_a_checkpoint_file_continues_in_its_run(capsys):
    run_dir = toy_run()
    code, _, err = run_cli(capsys, "train", "--no-progress", "--resume", run_dir / "checkpoints" / "last.prev.pt",
                           "train.steps=20")
    assert code == 0
    assert load_checkpoint(run_dir)["step"] == 20
    assert not (run_dir / "checkpoints" / "checkpoints").exists() and not (run_dir / "checkpoints" / "metrics.jsonl").exists()
    assert "resuming r from last.prev.pt (step 10)" in err


def test_both_checkpoints_corrupt_is_one_line(capsys):
    run_dir = toy_run()
    for name in ("last.pt", "last.prev.pt"):
        (run_dir / "checkpoints" / name).write_bytes(b"PK\x03\x04garbage")
    code, _, err = run_cli(capsys, "sample", run_dir)
    line = one_error_line(err)
    assert code == 2 and "last.pt" in line and "last.prev.pt" in line


# ------------------------------------------------------------------ concurrent writers
def test_second_writer_is_refused_with_the_first_ones_pid(capsys):
    run_dir = toy_run()
    with RunLock(RunDir(run_dir)):  # stands for a training that is still running
        before = (run_dir / "checkpoints" / "last.pt").read_bytes()
        code, _, err = run_cli(capsys, "train", "--no-progress", "--resume", run_dir, "train.steps=40")
        line = one_error_line(err)
        assert code == 2 and f"PID {os.getpid()}" in line
        assert (run_dir / "checkpoints" / "last.pt").read_bytes() == before
    _, t, status = resume(run_dir, ["train.steps=25"])  # the lock is released with its holder
    assert status == "finished" and t.step == 25


def test_lock_is_held_across_processes(tmp_path):
    run = RunDir(tmp_path / "r")
    run.path.mkdir()
    code = ("import sys, time; from ganforge.runs import RunDir, RunLock; "
            "l = RunLock(RunDir(sys.argv[1])).acquire(); print('locked', flush=True); time.sleep(30)")
    p = subprocess.Popen([sys.executable, "-c", code, str(run.path)], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "locked"
        with pytest.raises(GanforgeError, match=f"PID {p.pid}"):
            RunLock(run).acquire()
    finally:
        p.kill()  # kill -9: the OS releases the lock
        p.wait()
    RunLock(run).acquire().release()


def test_free_run_names_are_claimed_atomically():
    claimed = []
    barrier = threading.Barrier(8)

    def claim():
        barrier.wait()
        claimed.append(claim_new("runs", "same").path.name)

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == sorted(["same"] + [f"same-{i}" for i in range(2, 9)])


def test_checkpoint_temp_names_are_unique(monkeypatch):
    names = []
    real = files.tempfile.mkstemp

    def spy(*a, **k):
        fd, name = real(*a, **k)
        names.append(name)
        return fd, name

    monkeypatch.setattr(files.tempfile, "mkstemp", spy)
    ckpt.save_checkpoint({"step": 1}, "c/last.pt")
    ckpt.save_checkpoint({"step": 2}, "c/last.pt")
    assert len(set(names)) == 2 and load_checkpoint("c/last.pt")["step"] == 2


# ------------------------------------------------------------------ hangs and noise
def test_silent_mirror_gives_up_quickly_and_says_what_to_do(tmp_path, monkeypatch, capsys):
    from ganforge.data import mnist

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)  # accepts connections (the kernel does), never answers
    port = server.getsockname()[1]
    try:
        spec = mnist.IdxSet("mnist", "mnist", (f"http://127.0.0.1:{port}/a/", f"http://127.0.0.1:{port}/b/"),
                            dict(mnist.MNIST.md5), mnist.MNIST.classes)
        monkeypatch.setitem(mnist.IDX_SETS, "mnist", spec)
        monkeypatch.setenv("GANFORGE_DOWNLOAD_TIMEOUT", "0.5")
        start = time.perf_counter()
        with pytest.raises(GanforgeError) as e:
            mnist.load_idx_set("mnist", "train", root=tmp_path / "cache")
        assert time.perf_counter() - start < 10
    finally:
        server.close()
    msg = str(e.value)
    assert "could not download" in msg and "timed out" in msg and "data.download=false" in msg and "\n" not in msg
    err = capsys.readouterr().err
    assert err.count("downloading train-images-idx3-ubyte.gz") == 2  # the user sees what it waits for


def test_typo_in_ganforge_data_is_an_error_not_a_new_folder(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("GANFORGE_DATA", str(tmp_path / "shraed" / "data"))
    code, _, err = run_cli(capsys, "train", "--no-progress", "data.name=mnist", "train.steps=1")
    assert code == 2 and "GANFORGE_DATA" in one_error_line(err)
    assert not (tmp_path / "shraed").exists()


def test_folder_progress_bar_follows_log_progress(capsys, tmp_path):
    from PIL import Image

    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(12):
        Image.new("RGB", (20, 20), (i * 20, 0, 0)).save(folder / f"{i}.png")
    cfg = small_config(data={"name": "folder", "path": str(folder), "size": 16, "batch_size": 4},
                       model={"g": {"hidden": [16], "output": "tanh"}}, train={"steps": 2},
                       log={"progress": False, "sample_every": 0})
    train(cfg, run_dir="r")
    assert capsys.readouterr().err == ""


def test_resume_command_is_quoted_for_paths_with_spaces(capsys):
    train(small_config(log={"checkpoint_every": 0}), run_dir="my runs/first try", callbacks=[SignalAt(3)])
    assert "continue with: ganforge train --resume 'my runs/first try'" in capsys.readouterr().err


# ------------------------------------------------------------------ regularizer
def test_lazy_r1_without_gradient_penalty_trains():
    run_dir, trainer, status = train(small_config(loss={"r1_gamma": 1.0, "r1_every": 4}, train={"steps": 9},
                                                  log={"every": 1}), run_dir="r")
    assert status == "finished" and trainer.step == 9
    import json

    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    penalties = [r["d_penalty"] for r in rows]
    assert [p > 0 for p in penalties] == [i % 4 == 0 for i in range(9)]  # due on D steps 0, 4, 8 only


def test_kill_9_at_random_moments_then_sample_and_resume(tmp_path):
    """A short run of benchmarks/kill_test.py (20 trials there): after kill -9, sample and resume
    work and the resumed run ends with the uninterrupted run's weights and losses."""
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "kill_test.py"
    p = subprocess.run([sys.executable, str(script), "--trials", "2", "--steps", "400", "--seed", "1",
                        "--out", str(tmp_path / "kills")], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "2/2 trials passed" in p.stdout
