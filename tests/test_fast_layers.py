"""The CPU speed paths: ganforge's dropout, the channels_last flatten of D's features, fused Adam.
Each must compute what the plain PyTorch layer computes (speed is measured by benchmarks, not here)."""

import pytest
import torch
from torch import nn

from ganforge.config import ModelConfig, NetConfig, OptimConfig
from ganforge.data.batches import DataInfo
from ganforge.errors import GanforgeError
from ganforge.models import build_discriminator
from ganforge.models.layers import Dropout, flatten_features
from ganforge.training.optimizers import make_optimizer


@pytest.mark.parametrize("p", [0.25, 0.3, 0.5])
def test_dropout_keeps_one_minus_p_and_is_unbiased(p):
    torch.manual_seed(0)
    layer = Dropout(p).train()
    x = torch.full((400, 1000), 2.0, requires_grad=True)
    y = layer(x)
    kept = y != 0
    # 400,000 entries: the kept fraction is within 5 binomial std (0.004) of 1 - p
    assert abs(kept.float().mean().item() - (1 - p)) < 5 * ((p * (1 - p) / kept.numel()) ** 0.5)
    scale = y[kept].unique()
    assert len(scale) == 1 and abs(scale.item() / 2.0 - 1 / (1 - p)) < 1e-4  # one scale, 1/(1-p) within 1/65536
    y.sum().backward()
    assert torch.equal(x.grad, y.detach() / 2.0)  # the gradient is the mask times the scale
    assert torch.equal(layer.eval()(x), x)  # identity at evaluation
    assert torch.equal(Dropout(0.0).train()(x), x)


def test_dropout_masks_differ_per_entry_and_call_and_follow_the_global_seed():
    x = torch.ones(8, 3, 5, 7)
    torch.manual_seed(1)
    a, b = Dropout(0.5)(x), Dropout(0.5)(x)
    torch.manual_seed(1)
    assert torch.equal(Dropout(0.5)(x), a) and not torch.equal(a, b)
    # no stripes: each of the four 15-bit numbers cut from one 64-bit draw is used
    m = (Dropout(0.5)(torch.ones(100_000)) != 0).float().view(-1, 4).mean(0)
    assert (m - 0.5).abs().max() < 0.01


def test_dropout_keeps_the_memory_format_and_bf16():
    x = torch.randn(4, 6, 5, 5).to(memory_format=torch.channels_last)
    y = Dropout(0.25)(x)
    assert y.is_contiguous(memory_format=torch.channels_last)
    kept = y != 0
    assert torch.allclose(y[kept], x[kept] / 0.75)
    assert Dropout(0.25)(x.bfloat16()).dtype == torch.bfloat16
    with pytest.raises(GanforgeError, match="dropout"):
        Dropout(1.0)


def test_flatten_features_matches_flatten_and_returns_a_channels_last_gradient():
    h0 = torch.randn(3, 4, 5, 5)
    w = torch.randn(4 * 25)
    h = h0.to(memory_format=torch.channels_last).requires_grad_()
    out = flatten_features(h)
    assert torch.equal(out, h0.flatten(1))
    (out * w).sum().backward()
    assert h.grad.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(h.grad, w.view(1, 4, 5, 5).expand(3, 4, 5, 5))
    flat = torch.randn(3, 7, requires_grad=True)
    assert torch.equal(flatten_features(flat), flat)


def test_channels_last_discriminator_equals_the_contiguous_one_with_dropout_off():
    info = DataInfo("image", (1, 28, 28))
    outs, grads = [], []
    for channels_last in (True, False):
        torch.manual_seed(0)
        mcfg = ModelConfig(channels_last=channels_last, d=NetConfig(arch="dcgan", width=8, norm="none",
                                                                     activation="leaky_relu"))
        D = build_discriminator(mcfg, info)
        x = torch.randn(5, 1, 28, 28, generator=torch.Generator().manual_seed(1))
        out = D(x)
        out.sum().backward()
        outs.append(out.detach())
        grads.append([p.grad.clone() for p in D.parameters()])
    assert torch.allclose(outs[0], outs[1], atol=1e-5)
    assert all(torch.allclose(a, b, atol=1e-4) for a, b in zip(*grads))


def test_adam_is_fused_by_default_and_matches_the_loop():
    torch.manual_seed(0)
    init = nn.Linear(6, 3)
    results = {}
    for fused in (True, False):
        model = nn.Linear(6, 3)
        model.load_state_dict(init.state_dict())
        opt = make_optimizer(model.parameters(), OptimConfig(fused=fused, betas=[0.5, 0.999]), 1e-2)
        assert opt.defaults["fused"] is fused
        for step in range(5):
            x = torch.randn(16, 6, generator=torch.Generator().manual_seed(step))
            opt.zero_grad()
            model(x).pow(2).mean().backward()
            opt.step()
        results[fused] = [p.detach().clone() for p in model.parameters()]
        results[str(fused) + "_state"] = opt.state_dict()
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(results[True], results[False]))
    # a checkpoint of one loads into the other (resume with optim.fused changed)
    model = nn.Linear(6, 3)
    opt = make_optimizer(model.parameters(), OptimConfig(fused=True), 1e-2)
    opt.load_state_dict(results["False_state"])
    model(torch.randn(2, 6)).sum().backward()
    opt.step()
