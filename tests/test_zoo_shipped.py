"""The zoo that ships with the package (src/ganforge/zoo): every entry the issue asks for is there,
loads with its sha256 checked, samples offline through `ganforge sample zoo:NAME`, and its card's
`ganforge eval` numbers come back when the stored weights are evaluated again."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

import ganforge
from ganforge import cli
from ganforge.evaluation.run import run_eval
from ganforge.features import load_classifier
from ganforge.files import file_sha256
from ganforge.training.classifier import accuracy
from ganforge.zoo import PACKAGE_ZOO

SHIPPED = ("demo_mnist", "ring8", "acgan_mnist", "selfcond_mnist", "selfcond_fashion")
MAX_BYTES = 8 * 2**20  # "a few MB in all"


@pytest.fixture(autouse=True)
def only_the_package_zoo(monkeypatch):
    monkeypatch.delenv("GANFORGE_ZOO", raising=False)


def card(name: str) -> dict:
    return json.loads((PACKAGE_ZOO / f"{name}.json").read_text())


def test_the_package_zoo_holds_every_entry_with_its_card():
    total = 0
    for name in SHIPPED:
        c = card(name)
        weights = PACKAGE_ZOO / f"{name}.pt"
        assert c["preset"] == name and c["sha256"] == file_sha256(weights) and c["bytes"] == weights.stat().st_size
        assert c["dtype"] in ("fp16", "bf16") and c["images_seen"] > 0 and len(c["commit"]) >= 40
        assert c["eval"]["source"] == f"zoo:{name}" and c["eval"]["n"] > 0
        total += c["bytes"]
    assert total <= MAX_BYTES, f"the zoo weighs {total / 2**20:.1f} MiB"


@pytest.mark.parametrize("name", SHIPPED)
def test_sample_each_entry_offline(name, tmp_path):
    out = tmp_path / "s.npz"
    assert cli.main(["sample", f"zoo:{name}", "--n", "20", "--out", str(out)]) == 0
    with np.load(out) as f:
        key = "points" if "points" in f else "images"
        x = f[key]
    assert len(x) == 20 and np.isfinite(x.astype(np.float64)).all()
    if key == "images":
        assert x.dtype == np.uint8 and x.shape[1:] == (1, 28, 28) and x.std() > 10  # not a blank image


def test_acgan_entry_draws_the_class_asked_for(tmp_path):
    assert cli.main(["sample", "zoo:acgan_mnist", "--label", "3", "--n", "8", "--out", str(tmp_path / "3.npz")]) == 0
    with np.load(tmp_path / "3.npz") as f:
        assert f["labels"].tolist() == [3] * 8
    x = ganforge.Run("zoo:acgan_mnist").sample(8, labels=3, seed=1, uint8=True)
    assert x.shape == (8, 1, 28, 28)
    # the shipped digit classifier reads them as threes
    assert accuracy(load_classifier("mnist").net, torch.from_numpy(x), torch.full((8,), 3)) >= 7 / 8


def test_ring8_card_is_reproduced():
    c = card("ring8")["eval"]
    r = run_eval("zoo:ring8", None, n=c["n"], progress=False)
    for key, value in c.items():
        if isinstance(value, float) and key != "seconds":
            assert math.isclose(r[key], value, rel_tol=1e-6, abs_tol=1e-9), key


@pytest.mark.parametrize("name", ["acgan_mnist", "selfcond_fashion"])
def test_image_card_fid_is_reproduced(name, real_data_root):
    c = card(name)["eval"]
    r = run_eval(f"zoo:{name}", "fid", n=c["n"], progress=False)
    assert math.isclose(r["fid"], c["fid"], rel_tol=1e-4), (r["fid"], c["fid"])
