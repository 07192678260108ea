"""Residual networks (``model.g.arch`` / ``model.d.arch`` = resnet): shapes, conditioning, packing,
spectral norm, and a few training steps with the losses."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import small_config
from ganforge.config import ModelConfig, NetConfig
from ganforge.data.batches import DataInfo
from ganforge.errors import GanforgeError
from ganforge.models import DISCRIMINATORS, GENERATORS, build_discriminator, build_generator
from ganforge.models.conditioning import ConditionalBatchNorm
from ganforge.models.resnet import ResNetDiscriminator, ResNetGenerator

# (shape, conditioning, g_cbn): every conditioning at 28 px, each resolution and channel count
CASES = [((1, 28, 28), c, cbn) for c, cbn in [("none", False), ("acgan", False), ("acgan", True),
                                               ("projection", False), ("projection", True)]]
CASES += [((3, 28, 28), "none", False), ((1, 32, 32), "none", False), ((3, 32, 32), "acgan", False),
          ((3, 32, 32), "projection", True), ((1, 64, 64), "none", False), ((3, 64, 64), "acgan", True)]


def mcfg(conditioning="none", g_cbn=False, g=None, d=None, **extra):
    return ModelConfig(latent_dim=16, conditioning=conditioning, g_cbn=g_cbn,
                       g=NetConfig(**{"arch": "resnet", "width": 8, "norm": "batch", "output": "tanh", **(g or {})}),
                       d=NetConfig(**{"arch": "resnet", "width": 8, **(d or {})}), **extra)


def test_registered():
    assert GENERATORS.get("resnet") is ResNetGenerator and DISCRIMINATORS.get("resnet") is ResNetDiscriminator


@pytest.mark.parametrize("shape,conditioning,g_cbn", CASES)
def test_shapes(shape, conditioning, g_cbn):
    cfg = mcfg(conditioning, g_cbn)
    info = DataInfo("image", shape, num_classes=10 if conditioning != "none" else 0)
    G, D = build_generator(cfg, info), build_discriminator(cfg, info)
    y = torch.tensor([0, 3, 9, 3]) if conditioning != "none" else None
    x = G(torch.randn(4, 16), y)
    assert x.shape == (4, *shape) and x.abs().max() <= 1
    logits, classes = D(x, y, return_classes=True)
    assert logits.shape == (4,) and D(x, y).shape == (4,)
    assert classes is None if conditioning != "acgan" else classes.shape == (4, 10)
    cbns = [m for m in G.modules() if isinstance(m, ConditionalBatchNorm)]
    ups = {28: 2, 32: 3, 64: 4}[shape[1]]
    assert len(G.blocks) == ups and len(cbns) == (2 * ups + 1 if g_cbn else 0)
    assert len(D.blocks) == ups + 1  # optimized block + (ups - 1) down-blocks + one block at base x base
    # G's first map is base x base: 7 for 28 px, 4 for 32 and 64 px
    assert G.project.out_features == 8 * (7 if shape[1] == 28 else 4) ** 2


def test_conditional_generator_depends_on_the_label():
    info = DataInfo("image", (1, 28, 28), num_classes=10)
    for g_cbn in (False, True):
        G = build_generator(mcfg("acgan", g_cbn), info).eval()
        z = torch.randn(1, 16).repeat(2, 1)
        x = G(z, torch.tensor([3, 7]))
        assert not torch.allclose(x[0], x[1])
        mixed = G(z[:1], torch.full((1, 10), 0.1))  # class weights (label morphing) work too
        assert mixed.shape == (1, 1, 28, 28)
        with pytest.raises(GanforgeError, match="give labels"):
            G(z)


@pytest.mark.parametrize("output", ["tanh", "sigmoid", "none"])
def test_output(output):
    G = build_generator(mcfg(g=dict(output=output, norm="none")), DataInfo("image", (1, 28, 28)))
    x = G(torch.randn(8, 16) * 10)
    if output == "none":
        assert x.abs().max() > 0
    else:
        assert x.min() >= -1 and x.max() <= 1
    assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in G.modules())


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
def test_packing(shape):
    cfg = mcfg(d=dict(pack=2))
    D = build_discriminator(cfg, DataInfo("image", shape))
    assert D.blocks[0].conv1.in_channels == 2 * shape[0] and D.blocks[0].shortcut.in_channels == 2 * shape[0]
    assert D(torch.randn(6, *shape)).shape == (3,)
    with pytest.raises(GanforgeError, match="multiple of model.d.pack=2"):
        D(torch.randn(5, *shape))


def test_channels_last():
    cfg = mcfg(channels_last=True)
    info = DataInfo("image", (3, 32, 32))
    G, D = build_generator(cfg, info), build_discriminator(cfg, info)
    assert D.blocks[0].conv1.weight.is_contiguous(memory_format=torch.channels_last)
    x = G(torch.randn(2, 16))
    assert D(x).shape == (2,)
    cfg.channels_last = False
    G2, D2 = build_generator(cfg, info), build_discriminator(cfg, info)
    G2.load_state_dict(G.state_dict()), D2.load_state_dict(D.state_dict())
    G.eval(), G2.eval()
    z = torch.randn(2, 16)
    assert torch.allclose(G(z), G2(z), atol=1e-5) and torch.allclose(D(G(z)), D2(G(z)), atol=1e-4)


@pytest.mark.parametrize("conditioning", ["none", "acgan", "projection"])
def test_spectral_norm_on_every_weight_of_d(conditioning):
    info = DataInfo("image", (1, 28, 28), num_classes=10 if conditioning != "none" else 0)
    D = build_discriminator(mcfg(conditioning, d=dict(spectral_norm=True)), info)
    layers = [m for m in D.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    # 3 convs in each of 3 blocks less the last block's identity shortcut, + head (+ aux head)
    assert len(layers) == 8 + 1 + (conditioning == "acgan")
    for m in layers:
        assert torch.nn.utils.parametrize.is_parametrized(m, "weight")
    if conditioning == "none":
        D.train()
        for _ in range(30):  # power iterations converge during forward passes
            D(torch.randn(2, 1, 28, 28))
        for m in layers:
            w = m.weight.detach().flatten(1)
            assert torch.linalg.matrix_norm(w, ord=2) == pytest.approx(1.0, abs=0.05)
    plain = build_discriminator(mcfg(conditioning), info)
    assert not any(torch.nn.utils.parametrize.is_parametrized(m) for m in plain.modules())


def test_d_logits_depend_on_the_input():
    torch.manual_seed(0)
    D = build_discriminator(mcfg(), DataInfo("image", (1, 28, 28)))
    x = torch.randn(4, 1, 28, 28)
    out = D(x)
    assert out.std() > 1e-4 and not torch.allclose(out, D(x.flip(-1)))
    # per-sample: no batch statistics in an unnormalized D
    assert torch.allclose(D(x)[:1], D(x[:1]), atol=1e-5)
    # gradients reach the input (what R1 / gradient penalties need)
    xr = x.clone().requires_grad_()
    D(xr).sum().backward()
    assert xr.grad.abs().sum() > 0


def test_d_norm_layer_and_activation():
    D = build_discriminator(mcfg(d=dict(norm="layer", activation="leaky_relu")), DataInfo("image", (1, 28, 28)))
    assert any(isinstance(m, torch.nn.GroupNorm) for m in D.modules())
    assert any(isinstance(m, torch.nn.LeakyReLU) for m in D.modules())
    x = torch.randn(3, 1, 28, 28)
    assert torch.allclose(D(x)[:1], D(x[:1]), atol=1e-5)


def test_width_64():
    cfg = mcfg(g=dict(width=64), d=dict(width=64))
    info = DataInfo("image", (1, 28, 28))
    G, D = build_generator(cfg, info), build_discriminator(cfg, info)
    assert D(G(torch.randn(2, 16))).shape == (2,)
    assert D.blocks[1].conv1.out_channels == 64 and G.blocks[0].conv1.out_channels == 64


def test_unsupported_resolution_is_clear():
    with pytest.raises(GanforgeError, match="resnet needs square images, got 48x40"):
        build_generator(mcfg(), DataInfo("image", (3, 48, 40)))
    with pytest.raises(GanforgeError, match="28, 32, 64"):
        build_discriminator(mcfg(), DataInfo("image", (3, 30, 30)))


def resnet_sections(loss, **model):
    return {"data": {"name": "mnist", "batch_size": 16},
            "model": {"latent_dim": 16, **model,
                      "g": {"arch": "resnet", "width": 16, "norm": "batch", "output": "tanh"},
                      "d": {"arch": "resnet", "width": 16, "spectral_norm": True}},
            "loss": {"name": loss}, "train": {"steps": 4},
            "log": {"every": 1, "sample_every": 0, "checkpoint_every": 0, "n_samples": 16}}


@pytest.mark.parametrize("loss", ["non_saturating", "hinge"])
def test_training_a_few_steps(fake_mnist, loss):
    from ganforge.training.run import train

    run_dir, trainer, status = train(small_config(**resnet_sections(loss)), run_dir="r")
    assert status == "finished" and trainer.step == 4
    rows = [json.loads(line) for line in Path("r/metrics.jsonl").read_text().splitlines()]
    assert rows and all(np.isfinite(r["d_loss"]) and np.isfinite(r["g_loss"]) for r in rows)
    assert any(isinstance(m, ResNetGenerator) for m in trainer.G.modules())


@pytest.mark.parametrize("conditioning", ["acgan", "projection"])
def test_training_conditionally_with_cbn_and_mbstd(fake_mnist, conditioning):
    from ganforge.build import build_experiment
    from ganforge.training.trainer import Trainer

    sections = resnet_sections("hinge", conditioning=conditioning, g_cbn=True)
    sections["model"]["d"]["mbstd_group"] = 4
    trainer = Trainer(build_experiment(small_config(**sections)))
    before = [p.detach().clone() for p in trainer.G.parameters()]
    for _ in range(2):
        trainer.train_step()
    rec = trainer.flush_stats()
    assert all(np.isfinite(v) for v in rec.values() if isinstance(v, float))
    assert any(not torch.equal(a, b) for a, b in zip(before, trainer.G.parameters()))


def test_constructor_coverage_rule_still_holds():
    import test_model_constructors as tmc

    tmc.test_every_registered_architecture_has_cases()
    assert any(arch == "resnet" for arch, *_ in tmc.CASES.values())
