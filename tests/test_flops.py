"""FLOP accounting (``ganforge.flops``): layer counts against hand counts, against PyTorch's own FLOP
formulas on preset G and D, and whole training steps against the products a real step executes."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

from conftest import small_config
from ganforge.bench import _bare_loop
from ganforge.build import build_experiment
from ganforge.choices import load_config
from ganforge.data import data_info
from ganforge.errors import GanforgeError
from ganforge.flops import probe_inputs, forward_layers, matmul_peak, step_flops
from ganforge.models import build_discriminator, build_generator
from ganforge.training.trainer import Trainer

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


class ExecutedFlops(TorchDispatchMode):
    """Every matmul/conv (forward and backward, double backward included) that runs, counted with
    PyTorch's FLOP formulas (``FlopCounterMode`` itself trips over ``autograd.grad`` with create_graph)."""

    def __init__(self):
        super().__init__()
        self.total = 0
        self.formulas = FlopCounterMode(display=False).flop_registry

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        formula = self.formulas.get(func._overloadpacket)
        if formula is not None:
            self.total += formula(*args, **kwargs, out_val=out)
        return out


def test_mlp_layers_by_hand():
    net = nn.Sequential(nn.Linear(5, 7), nn.LeakyReLU(0.2), nn.Dropout(0.5), nn.Linear(7, 3), nn.Tanh())
    layers = forward_layers(net, torch.randn(4, 5))
    assert [x.name for x in layers] == ["0", "3"]
    assert [x.flops for x in layers] == [2 * 4 * 5 * 7, 2 * 4 * 7 * 3]  # 2 x rows x in x out
    assert [x.input_grad for x in layers] == [False, True]  # the first layer reads the input


def test_conv_layers_by_hand():
    net = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2, padding=1), nn.BatchNorm2d(4), nn.ReLU(),  # 8x8 -> 4x4
                        nn.Conv2d(4, 6, 3, padding=1, groups=2),  # 4x4, 2 input channels per group
                        nn.ConvTranspose2d(6, 2, 4, stride=2, padding=1),  # 4x4 -> 8x8
                        nn.Flatten(), nn.Linear(2 * 8 * 8, 1))
    layers = forward_layers(net, torch.randn(2, 3, 8, 8))
    assert [x.flops for x in layers] == [
        2 * (2 * 4 * 4 * 4) * (3 * 3 * 3),  # output elements x (C_in x kh x kw) multiply-adds
        2 * (2 * 6 * 4 * 4) * (2 * 3 * 3),  # grouped: C_in / groups
        2 * (2 * 6 * 4 * 4) * (2 * 4 * 4),  # transposed: input elements x (C_out x kh x kw)
        2 * 2 * (2 * 8 * 8) * 1,
    ]
    # PyTorch's own formulas agree
    with FlopCounterMode(display=False) as counter:
        net(torch.randn(2, 3, 8, 8))
    assert counter.get_total_flops() == sum(x.flops for x in layers)


@pytest.mark.parametrize("preset", ["mlp_mnist.toml", "dcgan_mnist.toml", "demo_mnist.toml", "hinge64_mnist.toml",
                                    "selfcond_mnist.toml", "semi_mnist.toml", "projection_hinge_mnist.toml",
                                    "tutorials/tutorial1_tf_dcgan_mnist.toml", "dcgan_stacked_mnist.toml",
                                    "tutorials/tutorial2_keras_acgan_mnist.toml"])
def test_forward_counts_agree_with_flop_counter_on_presets(preset):
    """Every architecture (mlp, dcgan, resnet, conv, nearest-upsampling conv; conditional, clustered, packed
    heads): the hooks see every product that PyTorch's FlopCounterMode sees."""
    cfg = load_config(str(CONFIGS / preset))
    info = data_info(cfg.data)
    G, D = build_generator(cfg.model, info), build_discriminator(cfg.model, info)
    z, y_fake, y_real = probe_inputs(cfg, G, info.num_classes, 2 * cfg.model.d.pack, "cpu")
    for model, args, kwargs in ((G, (z, y_fake), {}), (D, (G(z, y_fake).detach(), y_real), {"return_classes": True})):
        with FlopCounterMode(display=False) as counter:
            model(*args, **kwargs)
        assert sum(x.flops for x in forward_layers(model, *args, **kwargs)) == counter.get_total_flops() > 0


def test_step_composition_by_hand():
    """small_config: G 4 -> 32 -> 2, D 2 -> 32 -> 1 (LeakyReLU), batch 32."""
    B = 32
    g_f, g_0 = 2 * B * (4 * 32 + 32 * 2), 2 * B * 4 * 32  # G forward; its first layer (reads z)
    d_f, d_0, d_h = 2 * B * (2 * 32 + 32 * 1), 2 * B * 2 * 32, 2 * B * 32 * 1  # D forward, first layer, output layer
    hand = {"g_forward": g_f, "d_forward": 2 * d_f, "d_backward": 2 * d_f + 2 * (d_f - d_0),
            "g_step_d_forward": d_f, "g_step_d_backward": d_f, "g_backward": g_f + (g_f - g_0),
            "gradient_penalty": 0, "r1": 0}
    exp = build_experiment(small_config())
    flops = step_flops(exp.cfg, exp.G, exp.D)
    assert flops.parts == hand and flops.total == 69632 and flops.textbook_extra == d_f
    gp = step_flops(small_config(loss={"gp_weight": 10.0}), exp.G, exp.D)
    assert gp.parts["gradient_penalty"] == 6 * d_f - 3 * d_h
    r1 = step_flops(small_config(loss={"r1_gamma": 1.0, "r1_every": 1}), exp.G, exp.D)
    assert r1.parts["r1"] == d_0 + 3 * d_f - d_h
    two = step_flops(small_config(train={"d_steps": 2}), exp.G, exp.D)
    assert two.parts["d_forward"] == 4 * d_f and two.parts["g_backward"] == hand["g_backward"]


DCGAN = {"data": {"name": "ring8", "batch_size": 8}}
CONV = {"data": {"name": "mnist", "batch_size": 8},
        "model": {"latent_dim": 6, "g": {"arch": "dcgan", "width": 4, "norm": "batch", "output": "tanh"},
                  "d": {"arch": "dcgan", "width": 4, "norm": "batch", "activation": "leaky_relu"}}}


def _conv(**sections):
    out = copy.deepcopy(CONV)
    for key, value in sections.items():
        for k, v in value.items():
            out.setdefault(key, {})[k] = {**out[key].get(k, {}), **v} if isinstance(v, dict) else v
    return out


STEPS = {
    "mlp, 2 D steps": {"train": {"d_steps": 2}},
    "mlp, PacGAN pack 2": {"model": {"d": {"pack": 2}}},
    "mlp, gradient penalty": {"loss": {"gp_weight": 10.0}},
    "mlp, G every 2nd iteration": {"train": {"g_every": 2}},
    "dcgan (transposed convs)": _conv(),
    "dcgan, gradient penalty, minibatch std": _conv(loss={"gp_weight": 10.0, "name": "wasserstein"},
                                                    model={"d": {"mbstd_group": 4, "norm": "layer"}}),
    "dcgan, R1": _conv(loss={"r1_gamma": 1.0}),
    "dcgan, AC-GAN without the fake class loss": _conv(model={"conditioning": "acgan"}, loss={"aux_fake_d": False}),
    "dcgan, InfoGAN": _conv(model={"latent_info": True, "latent_categories": 3}),
    "dcgan, split D step": _conv(train={"d_split": True}),
}


@pytest.mark.parametrize("name", list(STEPS))
def test_step_flops_equal_the_products_a_training_step_runs(name, fake_mnist):
    cfg = small_config(**STEPS[name])
    exp = build_experiment(cfg, progress=False)
    flops = step_flops(cfg, exp.G, exp.D, exp.data.info.num_classes)
    trainer = Trainer(exp, [])
    trainer.step = cfg.train.g_warmup + 1  # the G schedule's steady state (step 0 trains G at once)
    with ExecutedFlops() as executed:
        trainer.train_step()
    assert flops.total == executed.total


def test_lazy_r1_is_averaged_over_its_interval(fake_mnist):
    cfg = small_config(**_conv(loss={"r1_gamma": 1.0, "r1_every": 4}))
    exp = build_experiment(cfg, progress=False)
    flops = step_flops(cfg, exp.G, exp.D, exp.data.info.num_classes)
    trainer = Trainer(exp, [])
    with ExecutedFlops() as executed:
        for _ in range(4):
            trainer.train_step()
    assert 4 * flops.total == executed.total


def test_bare_and_textbook_loops(fake_mnist):
    cfg = small_config(**_conv())
    exp = build_experiment(cfg, progress=False)
    flops = step_flops(cfg, exp.G, exp.D, exp.data.info.num_classes)
    with ExecutedFlops() as bare:
        _bare_loop(exp, 1, freeze_d=True)
    with ExecutedFlops() as textbook:
        _bare_loop(exp, 1, freeze_d=False)
    assert (bare.total, textbook.total) == (flops.total, flops.total + flops.textbook_extra)


def test_counting_leaves_the_run_untouched(fake_mnist):
    exp = build_experiment(small_config(**_conv(model={"d": {"dropout": 0.3}})), progress=False)
    before = {k: v.clone() for k, v in {**exp.G.state_dict(), **{"d." + k: v for k, v in exp.D.state_dict().items()}}.items()}
    rng = torch.get_rng_state()
    step_flops(exp.cfg, exp.G, exp.D, exp.data.info.num_classes)
    after = {**exp.G.state_dict(), **{"d." + k: v for k, v in exp.D.state_dict().items()}}
    assert all(torch.equal(before[k], after[k]) for k in before)  # batch-norm statistics included
    assert torch.equal(rng, torch.get_rng_state())


def test_refuses_what_it_does_not_model():
    cfg = load_config(str(CONFIGS / "semi_mnist.toml"))
    info = data_info(cfg.data)
    with pytest.raises(GanforgeError, match="feature_matching") as err:
        step_flops(cfg, build_generator(cfg.model, info), build_discriminator(cfg.model, info), info.num_classes)
    assert "\n" not in str(err.value)
    with pytest.raises(GanforgeError, match="Conv1d"):
        forward_layers(nn.Sequential(nn.Conv1d(1, 1, 3)), torch.randn(1, 1, 5))


def test_matmul_peak_is_flops_over_the_best_time(monkeypatch):
    """Clock readings: the calibration product (10 ms), then two timed repeats of 50 ms and 20 ms."""
    readings = iter([0.0, 0.01, 1.0, 1.05, 2.0, 2.02])
    monkeypatch.setattr("ganforge.flops.time.perf_counter", lambda: next(readings))
    assert matmul_peak(torch.float32, "cpu", size=32, repeats=2, min_seconds=0.0) == pytest.approx(2 * 32 ** 3 / 0.02)
