"""Presets ship inside the package and are found by name; configs/ is a link to them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ganforge import cli
from ganforge.choices import load_config
from ganforge.errors import GanforgeError
from ganforge.presets import PRESETS_DIR, describe, names, resolve

ROOT = Path(__file__).resolve().parents[1]
TINY = ["train.steps=3", "model.g.hidden=[16]", "model.d.hidden=[16]", "log.every=1", "log.sample_every=0",
        "log.checkpoint_every=0", "log.tensorboard=false", "--no-progress"]


def test_configs_is_the_package_folder():
    assert (ROOT / "configs").is_symlink()
    assert (ROOT / "configs").resolve() == PRESETS_DIR
    assert PRESETS_DIR == (ROOT / "src" / "ganforge" / "presets").resolve()
    assert "dcgan_mnist" in names() and "tutorials/tutorial1_tf_dcgan_mnist" in names()
    assert len(names()) == len(list(PRESETS_DIR.rglob("*.toml"))) >= 30


@pytest.mark.parametrize("typed", ["dcgan_mnist", "dcgan_mnist.toml", "configs/dcgan_mnist.toml"])
def test_a_name_finds_its_preset_from_anywhere(typed):
    assert resolve(typed) == PRESETS_DIR / "dcgan_mnist.toml"


def test_tutorials_by_full_or_bare_name():
    full = PRESETS_DIR / "tutorials" / "tutorial1_tf_dcgan_mnist.toml"
    assert resolve("tutorials/tutorial1_tf_dcgan_mnist") == full
    assert resolve("tutorial1_tf_dcgan_mnist") == full
    assert load_config("tutorial1_tf_dcgan_mnist").data.batch_size == 128


def test_a_file_that_exists_wins(tmp_path):
    Path("ring8").write_text('name = "mine"\n[train]\nsteps = 7\n')
    assert resolve("ring8") == Path("ring8")
    assert load_config("ring8").name == "mine"
    Path("ring8").unlink()
    assert load_config("ring8").train.steps == 30000


def test_unknown_names_and_paths_are_one_line():
    with pytest.raises(GanforgeError, match=r"unknown preset 'dcgan_mnst' \(did you mean 'dcgan_mnist'\?\)") as e:
        load_config("dcgan_mnst")
    assert "\n" not in str(e.value) and "ganforge presets" in str(e.value)
    with pytest.raises(GanforgeError, match=r"config file 'nowhere/x\.toml' not found"):
        load_config("nowhere/x.toml")


def test_every_preset_has_a_one_line_description():
    for name in names():
        text = describe(name)
        assert text and "\n" not in text and len(text) <= 100, name
    assert describe("dcgan_mnist") == "DCGAN (Radford et al. 2016) for 28x28 MNIST"
    assert describe("tutorials/tutorial2_keras_acgan_mnist") == "Tutorial 002 (AC-GAN on MNIST in TF2/Keras), as written"


def test_ganforge_presets_lists_them(capsys):
    assert cli.main(["presets"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == names()
    assert any(line.startswith("ring8 ") and "8 Gaussians" in line for line in lines)


def test_train_by_preset_name(capsys):
    assert cli.main(["train", "ring8", *TINY, "--run-dir", "r"]) == 0
    assert [json.loads(x)["step"] for x in open("r/metrics.jsonl")] == [1, 2, 3]
    assert 'name = "ring8"' in Path("r/config.toml").read_text()
    assert cli.main(["train", "ring9", *TINY]) == 2
    assert "did you mean 'ring8'" in capsys.readouterr().err
