from pathlib import Path

import pytest

from ganforge.config import Config, apply_overrides, config_from_dict, to_dict, to_toml

from ganforge.choices import load_config
from ganforge.errors import GanforgeError

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.toml")), ids=lambda p: p.name)
def test_every_preset_loads(path, tmp_path):
    overrides = []
    if 'labels = "folders"' in path.read_text():  # a labelled-folder preset counts its folder's classes
        from PIL import Image

        for name in ("a", "b"):
            (tmp_path / name).mkdir()
            Image.new("RGB", (8, 8)).save(tmp_path / name / "x.png")
        overrides = [f"data.path={tmp_path}"]
    cfg = load_config(path, overrides)
    assert cfg.name == path.stem


def test_classic_presets_match_the_tutorials():
    classic = load_config(CONFIGS / "classic_mnist.toml")
    assert classic.model.latent_dim == 100 and classic.model.g.hidden == [128] and classic.model.d.hidden == [128]
    mlp = load_config(CONFIGS / "mlp_mnist.toml")
    assert mlp.model.g.hidden == [256, 512, 1024] and mlp.model.d.hidden == [1024, 512, 256]
    assert mlp.model.d.dropout == 0.3 and mlp.loss.real_label == 0.9
    assert mlp.optim.g_lr == 2e-4 and mlp.optim.betas == [0.5, 0.999]


def test_overrides_are_typed():
    cfg = load_config(CONFIGS / "classic_mnist.toml",
                      ["train.epochs=3", "data.name=fashion_mnist", "optim.g_lr=1e-4", "model.g.hidden=[64, 32]",
                       "log.tensorboard=false"])
    assert cfg.train.epochs == 3 and cfg.data.name == "fashion_mnist"
    assert cfg.optim.g_lr == pytest.approx(1e-4) and cfg.model.g.hidden == [64, 32]
    assert cfg.log.tensorboard is False


def test_unknown_key_suggests_the_right_one():
    with pytest.raises(GanforgeError, match=r"unknown config key 'train.epoch' \(did you mean 'epochs'\?\)"):
        load_config(None, ["train.epoch=3"])
    with pytest.raises(GanforgeError, match="did you mean 'optim'"):
        load_config(None, ["optimizer.g_lr=1"])


def test_wrong_type_and_bad_choice_are_one_line():
    with pytest.raises(GanforgeError, match="'train.epochs' must be an integer") as e:
        load_config(None, ["train.epochs=three"])
    assert "\n" not in str(e.value)
    with pytest.raises(GanforgeError, match="did you mean 'non_saturating'"):
        load_config(None, ["loss.name=non_saturatin"])
    with pytest.raises(GanforgeError, match="section"):
        load_config(None, ["model=3"])


def test_missing_and_invalid_files(tmp_path):
    with pytest.raises(GanforgeError, match="not found"):
        load_config(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[data\nname=")
    with pytest.raises(GanforgeError, match="not valid TOML"):
        load_config(bad)


def test_toml_round_trip():
    cfg = apply_overrides(Config(), ["model.g.hidden=[7, 9]", "name=x y", "loss.real_label=0.9"])
    import tomllib

    again = config_from_dict(tomllib.loads(to_toml(to_dict(cfg))))
    assert to_dict(again) == to_dict(cfg)
