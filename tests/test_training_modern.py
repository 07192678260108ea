"""EMA, schedules, kimg, and exact resume with every modern ingredient switched on."""

import json
from pathlib import Path

import pytest
import torch

from conftest import small_config
from ganforge.build import build_experiment
from ganforge.choices import load_config
from ganforge.errors import GanforgeError
from ganforge.training.callbacks import Callback
from ganforge.training.ema import EMA
from ganforge.training.run import resume, train
from ganforge.training.schedules import linear_decay
from ganforge.training.trainer import Trainer


def test_ema_half_life_in_images():
    G = torch.nn.Linear(1, 1, bias=False)
    torch.nn.init.zeros_(G.weight)
    ema = EMA(G, half_life_kimg=1.0, batch_size=100)  # 10 steps of 100 images = one half-life
    with torch.no_grad():
        G.weight.fill_(1.0)
    for _ in range(10):
        ema.update(G)
    assert ema.model.weight.item() == pytest.approx(0.5, rel=1e-6)
    assert not any(p.requires_grad for p in ema.model.parameters())


def test_linear_decay():
    f = linear_decay(100, 0.5)
    assert [f(0), f(49), f(50), f(75), f(100)] == [1.0, 1.0, 1.0, 0.5, 0.0]


def test_kimg_sets_the_number_of_steps():
    cfg = small_config(train={"steps": 0, "kimg": 1.0, "d_steps": 2}, data={"batch_size": 50})
    assert Trainer(build_experiment(cfg)).total_steps == 10  # 1000 images / (50 x 2) per step


MODERN = {
    "data": {"name": "mnist", "batch_size": 16},
    "model": {"latent_dim": 8, "g": {"arch": "dcgan", "width": 4, "norm": "batch", "output": "tanh"},
              "d": {"arch": "dcgan", "width": 4, "norm": "layer", "activation": "leaky_relu",
                    "spectral_norm": True}},
    "loss": {"name": "wasserstein", "gp_weight": 10.0, "r1_gamma": 1.0, "r1_every": 3},
    "optim": {"schedule": "linear", "decay_start": 0.25, "betas": [0.0, 0.9]},
}


def losses(run_dir):
    return [json.loads(line) for line in (Path(run_dir) / "metrics.jsonl").read_text().splitlines()]


class StopAt(Callback):
    def __init__(self, step):
        self.at = step

    def on_step(self, trainer):
        if trainer.step == self.at:
            trainer.request_stop("test")


def test_resume_is_exact_with_gp_r1_sn_ema_and_schedule(fake_mnist):
    """A 12-step run stopped at step 6 and resumed == the same run in one go (the lr schedule
    depends on the planned length, so both plan 12 steps)."""
    sections = dict(MODERN, train={"steps": 12, "d_steps": 2, "ema_kimg": 0.1, "d_ema_kimg": 0.1},
                    log={"every": 1, "checkpoint_every": 0})
    full, t_full, _ = train(small_config(**sections), run_dir="full")
    half, _, status = train(small_config(**sections), run_dir="half", callbacks=[StopAt(6)])
    assert status == "interrupted"
    _, t_res, _ = resume(half)
    got, want = losses(half), losses(full)
    assert [r["step"] for r in got] == list(range(1, 13)) and "d_penalty" in got[0]
    for g, w in zip(got, want):
        for key in ("d_loss", "g_loss", "d_real", "d_fake", "d_penalty"):
            assert g[key] == pytest.approx(w[key], abs=1e-6)
    for a, b in zip(t_res.ema.model.state_dict().values(), t_full.ema.model.state_dict().values()):
        assert torch.equal(a, b)
    for a, b in zip(t_res.d_ema.model.state_dict().values(), t_full.d_ema.model.state_dict().values()):
        assert torch.equal(a, b)  # D's weight average too
    assert t_res.opt_g.param_groups[0]["lr"] == pytest.approx(t_full.opt_g.param_groups[0]["lr"])
    assert t_full.opt_g.param_groups[0]["lr"] == pytest.approx(0.0)  # linear decay reached 0


def test_sampling_uses_the_ema_generator(fake_mnist):
    from ganforge.sampling import load_generator

    run_dir, trainer, _ = train(small_config(**dict(MODERN, train={"steps": 5, "ema_kimg": 0.05})), run_dir="r")
    G, _ = load_generator(run_dir)
    for a, b in zip(G.state_dict().values(), trainer.ema.model.state_dict().values()):
        assert torch.equal(a, b)
    assert not all(torch.equal(a, b) for a, b in zip(G.state_dict().values(), trainer.G.state_dict().values()))


def test_extending_a_decayed_run_says_how_the_schedule_changes(fake_mnist, capsys):
    sections = dict(MODERN, train={"steps": 6}, log={"every": 1, "checkpoint_every": 0})
    run, _, _ = train(small_config(**sections), run_dir="r")
    capsys.readouterr()
    resume(run)  # finished and unchanged: no note
    assert "note:" not in capsys.readouterr().err
    resume(run, ["train.steps=12"])
    err = capsys.readouterr().err
    assert "note: optim.schedule=linear now spans 12 steps" in err and "at step 6" in err


def test_adam_eps_reaches_the_optimizers_and_damps_tiny_gradients():
    """optim.eps is Adam's epsilon for G and D: with a gradient of 1e-6 the first step is
    lr * g / (|g| + eps), about lr with PyTorch's default 1e-8 and lr / 101 with 1e-4."""
    from ganforge.training.optimizers import make_optimizer

    for eps, expected in ((1e-8, 1e-3 * 1e-6 / (1e-6 + 1e-8)), (1e-4, 1e-3 * 1e-6 / (1e-6 + 1e-4))):
        cfg = load_config(None, [f"optim.eps={eps}"])
        w = torch.nn.Parameter(torch.zeros(1))
        opt = make_optimizer([w], cfg.optim, 1e-3)
        w.grad = torch.full((1,), 1e-6)
        opt.step()
        assert opt.param_groups[0]["eps"] == eps
        assert -w.item() == pytest.approx(expected, rel=1e-4)


# ------------------------------------------------------------------ EMA standing statistics
def _bn_config(**train):
    return small_config(data={"name": "mnist", "batch_size": 16},
                        model={"g": {"hidden": [32], "output": "tanh", "norm": "batch"}, "d": {"hidden": [32]}},
                        train={"steps": 6, "ema_kimg": 0.05, **train})


def test_ema_standing_stats_are_the_ema_weights_own_batch_statistics(fake_mnist):
    from ganforge.build import build_experiment
    from ganforge.training.trainer import Trainer

    trainer = Trainer(build_experiment(_bn_config(ema_bn_batches=4), progress=False))
    for _ in range(3):
        trainer.train_step()
        trainer.step += 1
    copied = {k: v.clone() for k, v in trainer.ema.model.state_dict().items() if "running" in k}
    rng = torch.get_rng_state()
    G = trainer.sampling_generator
    assert torch.equal(torch.get_rng_state(), rng)  # the global RNG is untouched: training goes on the same
    got = {k: v.clone() for k, v in G.state_dict().items() if "running" in k}
    # by hand: the EMA weights' batch statistics over the same 4 batches, averaged
    gen = torch.Generator().manual_seed(trainer.cfg.seed * 1_000_003 + 555 + trainer.step)
    zs = [trainer.latent(16, generator=gen) for _ in range(4)]
    bn = [m for m in G.modules() if isinstance(m, torch.nn.BatchNorm1d)][0]
    seen = []
    hook = bn.register_forward_hook(lambda m, inp, out: seen.append(inp[0].detach()))
    with torch.no_grad():
        G.train()
        for z in zs:
            G(z)
        G.eval()
    hook.remove()
    key = [k for k in copied if k.endswith("running_mean")][0]
    assert torch.allclose(got[key], torch.stack([x.mean(0) for x in seen]).mean(0), atol=1e-5)
    assert not torch.allclose(got[key], copied[key])  # not the training G's statistics
    assert not G.training


def test_ema_standing_stats_keep_resume_exact_and_reach_the_checkpoint(fake_mnist):
    from conftest import assert_resume_is_exact
    from ganforge.training.checkpoint import load_checkpoint

    sections = {"data": {"name": "mnist", "batch_size": 16},
                "model": {"g": {"hidden": [32], "output": "tanh", "norm": "batch"}, "d": {"hidden": [32]}},
                "train": {"ema_kimg": 0.05, "ema_bn_batches": 3}}
    full, _ = assert_resume_is_exact(sections)
    state = load_checkpoint(full / "checkpoints" / "last.pt")
    mean = [k for k in state["g_ema"] if k.endswith("running_mean")][0]
    assert not torch.equal(state["g_ema"][mean], state["g"][mean])  # the saved EMA G carries its own statistics


def test_ema_standing_stats_config_errors():
    from ganforge.choices import validate

    with pytest.raises(GanforgeError, match="train.ema_kimg"):
        validate(_bn_config(ema_kimg=0, ema_bn_batches=4))
    with pytest.raises(GanforgeError, match="train.ema_bn_batches"):
        validate(small_config(model={"sync_bn": True}, train={"ema_kimg": 10, "ema_bn_batches": 4}))
