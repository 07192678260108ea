"""The zoo: a tiny run trained here becomes an entry (benchmarks/make_zoo.py, or its make_entry), and
zoo:NAME works where a run directory does; the sha256 is checked at load. No weights are committed:
each entry lives in a temporary folder that GANFORGE_ZOO points to."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import ganforge
from ganforge import cli

ROOT = Path(__file__).resolve().parents[1]
TINY = ["model.g.hidden=[16]", "model.d.hidden=[16]", "log.every=1", "log.sample_every=0",
        "log.checkpoint_every=0", "log.tensorboard=false", "--no-progress"]


def make_zoo_module():
    spec = importlib.util.spec_from_file_location("make_zoo", ROOT / "benchmarks" / "make_zoo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def image_entry(fake_mnist, tmp_path, monkeypatch):
    """A 4-step MLP GAN on the fake MNIST, with EMA, stored as zoo entry 'tiny' (fp16) in tmp_path/zoo."""
    assert cli.main(["train", "data.name=mnist", "train.steps=4", "train.ema_kimg=0.1", "data.batch_size=16",
                     *TINY, "--run-dir", "run"]) == 0
    make_zoo_module().make_entry("run", "tiny", tmp_path / "zoo", "fp16", preset="mlp_mnist")
    monkeypatch.setenv("GANFORGE_ZOO", str(tmp_path / "zoo"))
    return tmp_path / "zoo"


def test_make_zoo_writes_an_evaluated_card_and_ganforge_zoo_lists_it(tmp_path, capsys):
    assert cli.main(["train", "ring8", "train.steps=5", *TINY, "--run-dir", "run"]) == 0
    p = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "make_zoo.py"), "run", "ring", "--out", "zoo",
                        "--eval-n", "400"], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    card = json.loads(Path("zoo/ring.json").read_text())
    assert card["preset"] == "ring8" and card["step"] == 5 and card["images_seen"] == 5 * 100
    assert card["dtype"] == "fp16" and card["ema"] is True and len(card["sha256"]) == 64
    assert card["eval"]["n"] == 400 and "modes" in card["eval"] and card["eval"]["source"] == "zoo:ring"
    assert len(card["commit"]) >= 40 or card["commit"] == "unknown"
    stored = torch.load("zoo/ring.pt", weights_only=True)["g"]
    ema = torch.load("run/checkpoints/last.pt", weights_only=True)["g_ema"]
    assert stored.keys() == ema.keys()
    assert {v.dtype for v in stored.values() if v.is_floating_point()} == {torch.float16}
    for k, v in ema.items():  # the EMA generator, rounded to fp16: half the bytes
        assert torch.allclose(stored[k].float(), v.float(), rtol=1e-3, atol=1e-4) if v.is_floating_point() \
            else torch.equal(stored[k], v)
    capsys.readouterr()
    import os

    os.environ["GANFORGE_ZOO"] = str(tmp_path / "zoo")
    try:
        assert cli.main(["zoo"]) == 0
        out = capsys.readouterr().out
        assert "zoo:ring  preset ring8" in out and "modes" in out
        assert cli.main(["sample", "zoo:ring", "--n", "50", "--out", "ring.npz"]) == 0
        assert np.load("ring.npz")["points"].shape == (50, 2)
    finally:
        del os.environ["GANFORGE_ZOO"]


def test_every_command_takes_a_zoo_entry(image_entry, capsys):
    run, entry = ganforge.Run("run"), ganforge.Run("zoo:tiny")
    assert entry.config.model.g.hidden == [16] and entry.step == 4 and entry.metrics == []
    a, b = run.sample(8, seed=3), entry.sample(8, seed=3)
    assert (a - b).abs().max() < 0.01  # the same EMA generator, stored in fp16
    assert entry.sample(4, uint8=True).dtype == np.uint8
    with pytest.raises(ganforge.GanforgeError, match="keeps only the EMA generator"):
        entry.generator(ema=False)
    assert cli.main(["sample", "zoo:tiny", "--n", "16", "--out", "s.png"]) == 0 and Path("s.png").is_file()
    assert cli.main(["interpolate", "zoo:tiny", "--steps", "3", "--rows", "2", "--out", "i.png"]) == 0
    assert cli.main(["export", "zoo:tiny"]) == 0 and Path("generator.pt").is_file()
    assert cli.main(["inpaint", "zoo:tiny", "--image", "test:0", "--mask", "half:left", "--steps", "2",
                     "--restarts", "2", "--prior-weight", "0", "--device", "cpu"]) == 0
    assert Path("inpaint.png").is_file()
    capsys.readouterr()
    assert cli.main(["inpaint", "zoo:tiny", "--image", "test:0", "--mask", "half:left", "--steps", "2"]) == 2
    assert "--prior-weight 0" in capsys.readouterr().err
    assert cli.main(["eval", "zoo:tiny", "--metrics", "fid", "--n", "32", "--json", "e.json", "--no-progress"]) == 0
    assert json.loads(Path("e.json").read_text())["source"] == "zoo:tiny"
    assert not list(image_entry.glob("*eval*")) and not Path("metrics.jsonl").exists()  # nothing written there


def test_a_changed_file_or_an_unknown_name_is_one_line(image_entry, capsys):
    weights = image_entry / "tiny.pt"
    data = bytearray(weights.read_bytes())
    data[-20] ^= 0xFF
    weights.write_bytes(bytes(data))
    assert cli.main(["sample", "zoo:tiny", "--out", "x.png"]) == 2
    err = capsys.readouterr().err
    assert "sha256" in err and "its card says" in err and err.count("\n") == 1
    assert cli.main(["sample", "zoo:tiyn", "--out", "x.png"]) == 2
    assert "did you mean 'tiny'" in capsys.readouterr().err


def test_make_zoo_refuses_a_run_that_is_still_training(fake_mnist, tmp_path, capsys):
    from ganforge.runs import RunDir, RunLock

    assert cli.main(["train", "data.name=mnist", "train.steps=2", "data.batch_size=16", *TINY, "--run-dir", "run"]) == 0
    with RunLock(RunDir("run")):  # as a training process holds it
        assert make_zoo_module().main(["run", "busy", "--out", str(tmp_path / "zoo")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "once its training has finished" in err
    assert not (tmp_path / "zoo" / "busy.pt").exists()
