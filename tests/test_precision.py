"""Mixed precision: autocast around G and D, fp32 losses and penalties, precision-independent checkpoints."""

from __future__ import annotations

import json

import pytest
import torch

from conftest import small_config
from ganforge.config import LossConfig
from ganforge.errors import GanforgeError
from ganforge.objectives import GANLoss
from ganforge.training.checkpoint import load_checkpoint
from ganforge.training.precision import Precision
from ganforge.training.run import resume, train

DCGAN = {"data": {"name": "mnist", "batch_size": 16},
         "model": {"latent_dim": 8, "g": {"arch": "dcgan", "width": 8, "norm": "batch", "output": "tanh"},
                   "d": {"arch": "dcgan", "width": 8}}}


def losses(run_dir) -> list[tuple]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [(r["step"], r["d_loss"], r["g_loss"]) for r in rows if "eval" not in r]


class Recorder(torch.nn.Module):
    """A D that records, per call, whether autocast was on and which dtype its input had."""

    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(2, 1)
        self.calls = []

    def forward(self, x, y=None, return_classes=False):
        self.calls.append(torch.is_autocast_enabled("cpu"))
        out = self.lin(x)
        return (out, None) if return_classes else out


def test_bf16_autocasts_d_but_keeps_losses_and_penalties_in_fp32():
    D = Recorder()
    loss = GANLoss(LossConfig(gp_weight=10.0, r1_gamma=1.0, r1_every=2), precision=Precision("bf16", "cpu", quiet=True))
    seen = []
    d_loss = loss.objective.d_loss
    loss.objective.d_loss = lambda r, f: seen.append((r.dtype, f.dtype)) or d_loss(r, f)
    real, fake = torch.randn(8, 2), torch.randn(8, 2)
    total, stats = loss.discriminator(D, loss.prepare_real(real), None, fake, None)  # R1 due on this step
    assert seen == [(torch.float32, torch.float32)] and total.dtype == torch.float32
    # real pass in fp32 (R1's double backward), fake pass autocast, gradient penalty in fp32
    assert D.calls == [False, True, False]
    D.calls.clear()
    loss.discriminator(D, loss.prepare_real(torch.randn(8, 2)), None, fake, None)  # R1 not due
    assert D.calls == [True, False]  # real and fake batches in one autocast pass (no batch norm), the penalty in fp32
    total.backward()
    assert D.lin.weight.grad.dtype == torch.float32


def test_fp16_needs_cuda_and_unknown_precision_is_refused():
    with pytest.raises(GanforgeError, match="fp16 is for CUDA"):
        Precision("fp16", "cpu")
    from ganforge.choices import load_config

    with pytest.raises(GanforgeError, match="train.precision"):
        load_config(None, ["train.precision=fp8"])


@pytest.mark.parametrize("sections", [{}, DCGAN], ids=["mlp_toy", "dcgan_mnist"])
def test_bf16_trains_and_resumes_bit_exactly(fake_mnist, sections):
    sections = {**sections, "train": {"steps": 16, "precision": "bf16"}, "log": {"every": 1, "checkpoint_every": 0}}
    full, t_full, _ = train(small_config(**sections), run_dir="full")
    assert all(p.dtype == torch.float32 for p in t_full.G.parameters())
    state = load_checkpoint(full)
    assert all(v.dtype == torch.float32 for v in state["g"].values() if v.is_floating_point())
    sections["train"] = {"steps": 8, "precision": "bf16"}
    half, _, _ = train(small_config(**sections), run_dir="half")
    _, t_res, status = resume(half, ["train.steps=16"])
    assert status == "finished"
    got, want = losses(half), losses(full)
    assert [g[0] for g in got] == list(range(1, 17))
    for g, w in zip(got, want):
        assert g == pytest.approx(w, abs=1e-6)
    assert all(torch.equal(a, b) for a, b in zip(t_res.G.state_dict().values(), t_full.G.state_dict().values()))


def test_fp32_checkpoint_continues_in_bf16():
    run_dir, _, _ = train(small_config(train={"steps": 10}), run_dir="r")
    _, trainer, status = resume(run_dir, ["train.precision=bf16", "train.steps=20"])
    assert status == "finished" and trainer.step == 20 and trainer.precision.name == "bf16"
    rows = losses(run_dir)
    assert all(torch.isfinite(torch.tensor(r[1:])).all() for r in rows)


def test_bf16_with_gradient_penalty_spectral_norm_and_acgan(fake_mnist):
    cfg = small_config(data={"name": "mnist", "batch_size": 16},
                       model={"conditioning": "acgan", "g": {"arch": "dcgan", "width": 8, "norm": "batch",
                                                             "output": "tanh"},
                              "d": {"arch": "dcgan", "width": 8, "spectral_norm": True}},
                       loss={"name": "hinge", "gp_weight": 1.0}, train={"steps": 6, "precision": "bf16"})
    _, trainer, status = train(cfg, run_dir="r")
    assert status == "finished"
    rows = [json.loads(line) for line in open("r/metrics.jsonl")]
    assert all(torch.isfinite(torch.tensor([r["d_loss"], r["g_loss"], r["d_penalty"], r["d_class_loss"]])).all()
               for r in rows)
