"""``train.compile``: the key's checks, and the compiled G and D used for the training passes alone (the
plain modules keep the checkpoint keys). torch.compile runs here with its eager backend: the same
tracing and wrappers, without inductor's minutes of C++ compilation on a 2-core CPU."""

from __future__ import annotations

import json

import pytest
import torch

from conftest import small_config
from ganforge.choices import load_config
from ganforge.errors import GanforgeError
from ganforge.training.run import train

PLAIN = {"loss": {"r1_gamma": 0.0}, "train": {"steps": 6}, "log": {"every": 2}}


def test_compile_key_is_checked():
    with pytest.raises(GanforgeError, match="train.compile.*max-autotune-no-cudagraphs"):
        load_config(None, ["train.compile=fast"])
    with pytest.raises(GanforgeError, match="double backward") as err:
        load_config(None, ["train.compile=default", "loss.gp_weight=10"])
    assert "\n" not in str(err.value)
    assert load_config(None, ["train.compile=max-autotune-no-cudagraphs"]).train.compile == "max-autotune-no-cudagraphs"
    assert load_config(None, []).train.compile == "none"


def _losses(run_dir) -> list[tuple[float, float]]:
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [(r["d_loss"], r["g_loss"]) for r in map(json.loads, lines) if "d_loss" in r]


def test_compiled_training_passes(monkeypatch):
    modes, real_compile = [], torch.compile

    def eager_compile(module, mode):
        modes.append(mode)
        return real_compile(module, backend="eager")

    monkeypatch.setattr("ganforge.training.compile.torch.compile", eager_compile)
    run_plain, _, _ = train(small_config(**PLAIN), run_dir="plain")
    assert modes == []  # train.compile=none: nothing compiled
    cfg = small_config(**{**PLAIN, "train": {**PLAIN["train"], "compile": "max-autotune-no-cudagraphs"}})
    run_dir, trainer, status = train(cfg, run_dir="compiled")
    assert status == "finished" and modes == ["max-autotune-no-cudagraphs"] * 2
    assert type(trainer.G_train).__name__ == type(trainer.D_train).__name__ == "OptimizedModule"
    assert trainer.D_train._orig_mod is trainer.D and not isinstance(trainer.G, type(trainer.G_train))
    state = torch.load(run_dir / "checkpoints" / "last.pt", weights_only=False)
    assert not any("_orig_mod" in k for k in [*state["g"], *state["d"]])  # the plain modules' keys
    assert _losses(run_dir) == _losses(run_plain)  # the same math, step for step
