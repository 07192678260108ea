"""The architecture and training words the tutorials' own networks need (issue 27): the conv arch's
layers against hand-built PyTorch modules and the tutorials' Keras/TF parameter counts, LRN against a
hand computation, init statistics, batch-norm momentum, the [0, 1] data range, the split D update, the
G schedule, the validation count, fresh-noise grids and per-net Adam betas."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from conftest import assert_resume_is_exact, small_config
from ganforge.choices import load_config, validate
from ganforge.data.batches import DataInfo
from ganforge.data.folder import split_indices
from ganforge.errors import GanforgeError
from ganforge.models import build_discriminator, build_generator
from ganforge.models.conv import _same_padding
from ganforge.models.layers import TFLocalResponseNorm, init_weights
from ganforge.training.run import train
from ganforge.training.trainer import g_iteration, g_steps_within

TUTORIALS = Path(__file__).resolve().parents[1] / "configs" / "tutorials"


def trainable(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters() if p.requires_grad)


def tutorial_nets(name: str, shape=(1, 28, 28), num_classes=10, overrides=()):
    cfg = load_config(TUTORIALS / f"{name}.toml", ["data.path=/nonexistent", *overrides])
    info = DataInfo(kind="image", shape=shape, num_classes=num_classes)
    return cfg, build_generator(cfg.model, info), build_discriminator(cfg.model, info)


def test_keras_acgan_parameter_counts_equal_the_tutorials_models():
    cfg, G, D = tutorial_nets("tutorial2_keras_acgan_mnist")
    # Keras: Dense 100*6272+6272, BN 2*128 (trainable), conv 3*3*128*128+128, BN 2*128, conv 3*3*128*64+64,
    # BN 2*64, conv 3*3*64+1, plus the label Embedding(10, 100)
    keras_g = (100 * 6272 + 6272) + 256 + (9 * 128 * 128 + 128) + 256 + (9 * 128 * 64 + 64) + 128 + (9 * 64 + 1)
    assert trainable(G) == keras_g + 10 * 100 == 857_065
    keras_d = (9 * 16 + 16) + (9 * 16 * 32 + 32) + 64 + (9 * 32 * 64 + 64) + 128 + (9 * 64 * 128 + 128) \
        + (2048 + 1) + (2048 * 10 + 10)
    assert trainable(D) == keras_d == 119_883
    G.eval(), D.eval()
    x = G(torch.randn(3, 100), torch.tensor([1, 2, 3]))
    assert x.shape == (3, 1, 28, 28) and x.abs().max() <= 1
    logits, classes = D(x, None, return_classes=True)
    assert logits.shape == (3,) and classes.shape == (3, 10)
    momenta = {m.momentum for m in list(G.modules()) + list(D.modules()) if isinstance(m, nn.BatchNorm2d)}
    assert momenta == {0.2}  # Keras' momentum=0.8


def test_keras_acgan_g_block_equals_a_hand_built_upsampling_block():
    _, G, _ = tutorial_nets("tutorial2_keras_acgan_mnist")
    block = G.blocks[0]
    hand = nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(128, 128, 3, padding=1), nn.ReLU(),
                         nn.BatchNorm2d(128, momentum=0.2))
    hand[1].load_state_dict(block[1].state_dict())
    x = torch.randn(2, 128, 7, 7)
    block.eval(), hand.eval()
    torch.testing.assert_close(block(x), hand(x))
    assert block(x).shape == (2, 128, 14, 14)


def test_celeba_networks_reach_112_px_with_the_tf_parameter_count():
    cfg, G, D = tutorial_nets("tutorial4_celeba_dcgan", shape=(3, 112, 112), num_classes=0)
    tf_g = (100 * 50176 + 50176) + 2 * 1024 + sum(25 * a * b + b for a, b in ((1024, 512), (512, 256), (256, 128), (128, 3))) \
        + 2 * (512 + 256 + 128)
    assert trainable(G) == tf_g
    tf_d = sum(25 * a * b + b for a, b in ((3, 64), (64, 128), (128, 256), (256, 512))) + 512 + 1
    assert trainable(D) == tf_d
    G.eval()
    x = G(torch.rand(2, 100) * 2 - 1)
    assert x.shape == (2, 3, 112, 112)
    assert D(x).shape == (2,)
    assert [type(m).__name__ for m in D.features if "Pool" in type(m).__name__] == ["MaxPool2d"] * 3 + ["AvgPool2d"]


@pytest.mark.parametrize("kernel", [3, 4, 5])
def test_transposed_convs_have_tf_same_size(kernel):
    padding, output_padding = _same_padding(kernel, 2)
    conv = nn.ConvTranspose2d(2, 2, kernel, stride=2, padding=padding, output_padding=output_padding)
    assert conv(torch.zeros(1, 2, 7, 7)).shape[-1] == 14


def test_tf_local_response_norm_matches_a_hand_computation():
    x = torch.randn(2, 13, 3, 3)
    y = TFLocalResponseNorm(radius=5, bias=2.0, alpha=1e-4, beta=0.75)(x)
    xs = x.numpy()
    want = np.empty_like(xs)
    for c in range(13):
        window = xs[:, max(0, c - 5):c + 6]
        want[:, c] = xs[:, c] / (2.0 + 1e-4 * (window ** 2).sum(axis=1)) ** 0.75
    np.testing.assert_allclose(y.numpy(), want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("scheme,check", [
    ("xavier_uniform", lambda w, fi, fo: w.abs().max() <= math.sqrt(6 / (fi + fo)) and
     abs(w.std() - math.sqrt(2 / (fi + fo))) < 0.05 * math.sqrt(2 / (fi + fo))),
    ("xavier_normal", lambda w, fi, fo: abs(w.std() - math.sqrt(2 / (fi + fo))) < 0.05 * math.sqrt(2 / (fi + fo))),
    ("normal_0.02", lambda w, fi, fo: abs(w.std() - 0.02) < 0.001 and abs(w.mean()) < 0.001),
    # a normal cut at 2 std keeps std 0.02 * 0.8796
    ("truncated_normal_0.02", lambda w, fi, fo: w.abs().max() <= 0.04 and abs(w.std() - 0.02 * 0.8796) < 0.001),
])
def test_init_schemes_have_their_statistics(scheme, check):
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(400, 300), nn.Conv2d(16, 32, 5))
    init_weights(m, scheme)
    assert check(m[0].weight, 400, 300)
    assert check(m[1].weight, 16 * 25, 32 * 25)
    assert (m[0].bias == 0).all() and (m[1].bias == 0).all()


def test_pytorch_init_draws_nothing():
    torch.manual_seed(0)
    a = nn.Linear(5, 5)
    init_weights(a, "pytorch")
    after = torch.rand(1)
    torch.manual_seed(0)
    nn.Linear(5, 5)
    assert torch.equal(after, torch.rand(1))


def test_bn_momentum_updates_running_mean_by_its_share():
    cfg = small_config(data={"name": "ring8"}, model={"g": {"norm": "batch", "bn_momentum": 0.2}})
    info = DataInfo(kind="points", shape=(2,))
    G = build_generator(cfg.model, info)
    bn = next(m for m in G.modules() if isinstance(m, nn.BatchNorm1d))
    G.train()
    G(torch.randn(16, cfg.model.latent_dim))
    assert bn.momentum == 0.2
    assert not torch.equal(bn.running_mean, torch.zeros_like(bn.running_mean))


def test_unit_data_range_sigmoid_g_and_d_on_0_1():
    cfg, G, D = tutorial_nets("tutorial0_classic_mlp_mnist")
    z = torch.rand(4, 100) * 2 - 1
    x = G(z)
    raw = G.net[:-1](z)  # the layers before the output block: logits of the sigmoid
    torch.testing.assert_close(x.view(4, -1), torch.sigmoid(raw) * 2 - 1)
    # D sees (x + 1) / 2: its first layer gets the [0, 1] image
    seen = []
    D.net[0].register_forward_pre_hook(lambda m, a: seen.append(a[0]))
    D(x)
    torch.testing.assert_close(seen[0], torch.sigmoid(raw))


def _d_steps_taken(trainer) -> int:
    return int(next(iter(trainer.opt_d.state.values()))["step"])


def test_split_d_update_steps_twice_per_iteration(fake_mnist):
    cfg = small_config(data={"name": "mnist", "batch_size": 16}, model={
        "g": {"arch": "dcgan", "width": 8, "norm": "batch", "output": "tanh"},
        "d": {"arch": "dcgan", "width": 8, "norm": "batch"}}, train={"steps": 3, "d_split": True})
    _, trainer, status = train(cfg, run_dir="r")
    assert status == "finished" and _d_steps_taken(trainer) == 6
    cfg = small_config(data={"name": "mnist", "batch_size": 16}, model={
        "g": {"arch": "dcgan", "width": 8, "norm": "batch", "output": "tanh"},
        "d": {"arch": "dcgan", "width": 8, "norm": "batch"}}, train={"steps": 3})
    _, trainer, _ = train(cfg, run_dir="r2")
    assert _d_steps_taken(trainer) == 3


def test_split_d_update_resumes_exactly(fake_mnist):
    assert_resume_is_exact({"data": {"name": "mnist", "batch_size": 16}, "model": {
        "conditioning": "acgan", "g": {"arch": "dcgan", "width": 8, "norm": "batch", "output": "tanh"},
        "d": {"arch": "dcgan", "width": 8, "norm": "batch"}}, "train": {"d_split": True}}, steps=6)


def test_g_schedule_is_the_celeba_tutorials():
    assert [g_iteration(s, 5, 5) for s in range(9)] == [0, 1, 2, 3, 4, 5, 10, 15, 20]
    assert [g_iteration(s) for s in range(4)] == [0, 1, 2, 3]
    # brute force: iterations it < 10,000 with it < 5 or it % 5 == 0
    assert g_steps_within(10_000, 5, 5) == sum(1 for it in range(10_000) if it < 5 or it % 5 == 0) == 2004
    assert g_steps_within(7, 3, 0) == 3 and g_steps_within(4, 1, 0) == 4


def test_trainer_follows_the_g_schedule():
    cfg = small_config(train={"steps": 8, "g_every": 5, "g_warmup": 5})
    _, trainer, _ = train(cfg, run_dir="r")
    # G at iterations 0..5, 10, 15: 16 D iterations
    assert _d_steps_taken(trainer) == 16
    cfg = small_config(train={"kimg": 10_000 * 32 / 1000, "g_every": 5, "g_warmup": 5, "steps": 0})
    from ganforge.training.trainer import planned_steps
    assert planned_steps(cfg, 1) == 2004


def test_val_count_holds_out_that_many_images():
    val, tr = split_indices(100, "val", 20.0), split_indices(100, "train", 20.0)
    assert len(val) == 20 and len(tr) == 80 and not set(val) & set(tr)
    with pytest.raises(GanforgeError, match="val_count"):
        split_indices(10, "train", 10.0)
    cfg = small_config(data={"name": "folder", "path": "x", "val_count": 5, "val_fraction": 0.1})
    with pytest.raises(GanforgeError, match="keep one"):
        validate(cfg)
    assert small_config(data={"val_count": 7}).data.val_held == 7.0


def test_fresh_noise_grids(fake_mnist):
    cfg = small_config(data={"name": "mnist", "batch_size": 16}, model={"g": {"output": "tanh"}},
                       train={"steps": 4}, log={"fresh_every": 2})
    run_dir, _, _ = train(cfg, run_dir="r")
    fresh = sorted(p.name for p in (run_dir / "samples").glob("fresh_*.png"))
    assert fresh == ["fresh_step_000002.png", "fresh_step_000004.png"]
    fixed = sorted(p.name for p in (run_dir / "samples").glob("step_*.png"))
    assert "step_000004.png" in fixed


def test_per_net_adam_betas():
    from ganforge.build import build_experiment

    exp = build_experiment(small_config(optim={"betas": [0.5, 0.999], "g_betas": [0.9, 0.999]}))
    assert exp.opt_g.param_groups[0]["betas"] == (0.9, 0.999)
    assert exp.opt_d.param_groups[0]["betas"] == (0.5, 0.999)


@pytest.mark.parametrize("overrides,match", [
    (["model.g.arch=conv"], "model.g.channels"),
    (["model.g.arch=conv", "model.g.channels=[8,4]", "model.g.up=[2]"], "model.g.up"),
    (["model.d.arch=conv", "model.d.channels=[8,4]", "model.d.kernel=3", "model.d.pool=[\"max\"]"], "model.d.pool"),
    (["model.d.arch=conv", "model.d.channels=[8]", "model.d.kernel=4"], "odd"),
    (["train.d_split=true", "loss.gp_weight=10"], "d_split"),
    (["model.g.init=glorot"], "model.g.init"),
    (["model.data_range=byte"], "model.data_range"),
])
def test_bad_architecture_words_are_one_line_errors(overrides, match):
    with pytest.raises(GanforgeError, match=match) as err:
        validate(load_config(None, ["data.name=mnist", *overrides]))
    assert "\n" not in str(err.value)


def test_every_tutorial_preset_validates():
    presets = sorted(TUTORIALS.glob("*.toml"))
    assert len(presets) == 8
    for p in presets:
        validate(load_config(p, ["data.path=/tmp"] if "celeba" in p.name else []))


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message of a machine without CUDA")
def test_eval_on_a_missing_gpu_is_one_line():
    from ganforge.evaluation.sources import eval_device

    assert eval_device("auto") == "cpu"
    with pytest.raises(GanforgeError, match="CUDA is not available"):
        eval_device("cuda")
