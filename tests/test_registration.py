"""A new ingredient is one registration: nothing else (no choice list, no default table) changes.

The two blocks marked "the whole diff" are what a contributor adds to ganforge to get a new loss
or a new data set: after them, config validation accepts the word, training uses it, and
``ganforge eval`` evaluates it with the data set's own defaults.
"""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from ganforge import cli
from ganforge.choices import load_config
from ganforge.data import DATASETS, DataInfo, Dataset, EvalSpec, ToyBatches
from ganforge.errors import GanforgeError
from ganforge.objectives import LOSSES, Objective

SMALL = ["model.latent_dim=4", "model.g.hidden=[32]", "model.g.output=none", "model.d.hidden=[32]",
         "data.batch_size=32", "train.steps=30", "log.every=10", "log.sample_every=0", "log.n_samples=16",
         "log.progress=false", "log.tensorboard=false"]


@pytest.fixture
def toy_loss():
    # ---- the whole diff of a new loss (in objectives/losses.py) ----
    @LOSSES.register("softplus_hinge")
    class SoftplusHinge(Objective):
        """A smooth hinge: softplus(1 - l(x)) + softplus(1 + l(G(z))) for D, -l(G(z)) for G."""
        name = "softplus_hinge"
        label_smoothing = False

        def d_loss(self, real_logits, fake_logits):
            return F.softplus(1 - real_logits).mean() + F.softplus(1 + fake_logits).mean()

        def g_loss(self, fake_logits):
            return -fake_logits.mean()
    # ---- end of the diff ----
    yield SoftplusHinge
    LOSSES.unregister("softplus_hinge")


@pytest.fixture
def toy_data():
    # ---- the whole diff of a new data set (in data/__init__.py or a plug-in) ----
    centers = torch.tensor([[-1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])

    def info(dcfg):
        return DataInfo(kind="points", shape=(2,), name="triangle3", centers=centers, std=0.05)

    def build(dcfg, seed, device, progress=True):
        return ToyBatches(centers, 0.05, dcfg.batch_size, seed, info(dcfg), dcfg.toy_epoch_size, device)

    DATASETS.register("triangle3")(Dataset(info, build, EvalSpec(kind="points", metrics=("modes",), n=500,
                                                                 provides=frozenset({"modes"}))))
    # ---- end of the diff ----
    yield
    DATASETS.unregister("triangle3")


def test_unknown_words_are_refused_before(tmp_path):
    with pytest.raises(GanforgeError, match="loss.name"):
        load_config(None, ["loss.name=softplus_hinge"])
    with pytest.raises(GanforgeError, match="data.name"):
        load_config(None, ["data.name=triangle3"])


def test_a_new_loss_is_one_registration(toy_loss, capsys):
    assert cli.main(["train", "data.name=ring8", "loss.name=softplus_hinge", *SMALL, "--run-dir", "r"]) == 0
    rows = [json.loads(line) for line in open("r/metrics.jsonl")]
    assert [r["step"] for r in rows] == [10, 20, 30]
    assert all(torch.isfinite(torch.tensor([r["d_loss"], r["g_loss"]])).all() for r in rows)
    # the first D loss is the hand-computed value at initialisation's small logits: about 2 softplus(1)
    assert 2.0 < rows[0]["d_loss"] < 3.0
    # the word validates like a built-in one, including its label-smoothing rule
    with pytest.raises(GanforgeError, match="does not apply to the softplus_hinge loss"):
        load_config(None, ["loss.name=softplus_hinge", "loss.real_label=0.9"])


def test_a_new_data_set_is_one_registration(toy_data, capsys):
    assert cli.main(["train", "data.name=triangle3", *SMALL, "train.steps=300", "optim.g_lr=1e-3",
                     "optim.d_lr=1e-3", "--run-dir", "r"]) == 0
    capsys.readouterr()
    assert cli.main(["eval", "r", "--no-progress"]) == 0  # its default metrics and sample count
    result = json.load(open("r/eval.json"))
    assert result["data"] == "triangle3" and result["n"] == 500 and result["num_modes"] == 3
    assert 0 <= result["modes"] <= 3 and 0.0 <= result["high_quality"] <= 1.0
    # metrics that do not fit it are refused by name, before training
    with pytest.raises(GanforgeError, match="fid"):
        load_config(None, ["data.name=triangle3", "eval.every=10", "eval.metrics=[\"fid\"]"])
