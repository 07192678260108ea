"""With the `tb` extra installed, a run's scalars, sample grids and resolved config appear in
TensorBoard's event files (read back here with TensorBoard's own reader)."""

from pathlib import Path

import pytest

from ganforge.cli import main

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def test_scalars_grids_and_config_are_in_the_event_files(fake_mnist, tmp_path):
    pytest.importorskip("tensorboard")  # in the dev extra, so CI always runs this test
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = tmp_path / "tb"
    assert main(["train", str(CONFIGS / "dcgan_mnist.toml"), "train.epochs=0", "train.steps=6", "log.every=2",
                 "log.sample_every=3", "log.progress=false", "log.tensorboard=true", "eval.every=0",
                 "model.g.width=8", "model.d.width=8", "--run-dir", str(run)]) == 0
    events = EventAccumulator(str(run / "tensorboard"), size_guidance={"images": 0, "tensors": 0}).Reload()
    tags = events.Tags()
    assert {"train/d_loss", "train/g_loss", "train/d_real", "train/d_fake"} <= set(tags["scalars"])
    assert [e.step for e in events.Scalars("train/d_loss")] == [2, 4, 6]
    assert [e.step for e in events.Images("samples")] == [0, 3, 6]
    text = events.Tensors("config/text_summary")[0].tensor_proto.string_val[0].decode()
    assert 'name = "mnist"' in text and "latent_dim = 100" in text and "width = 8" in text
