"""Each objective against values computed by hand from D = sigmoid(logit)."""

import math

import pytest
import torch

from ganforge.config import LossConfig
from ganforge.objectives import LOSSES, build_objective

REAL = torch.tensor([2.0, -1.0, 0.5])
FAKE = torch.tensor([-3.0, 0.0, 1.5])


def sig(v):
    return 1.0 / (1.0 + math.exp(-v))


def d_loss_by_hand(t=1.0):
    real = sum(-(t * math.log(sig(v)) + (1 - t) * math.log(1 - sig(v))) for v in REAL.tolist()) / 3
    fake = sum(-math.log(1 - sig(v)) for v in FAKE.tolist()) / 3
    return real + fake


@pytest.mark.parametrize("name", ["minimax", "non_saturating", "max_likelihood"])
@pytest.mark.parametrize("t", [1.0, 0.9])
def test_discriminator_loss(name, t):
    obj = build_objective(LossConfig(name=name, real_label=t))
    assert obj.d_loss(REAL, FAKE).item() == pytest.approx(d_loss_by_hand(t), rel=1e-6)


def test_generator_losses_by_hand():
    f = FAKE.tolist()
    minimax = sum(math.log(1 - sig(v)) for v in f) / 3
    non_sat = sum(-math.log(sig(v)) for v in f) / 3
    max_lik = -0.5 * sum(sig(v) / (1 - sig(v)) for v in f) / 3  # exp(logit) = D / (1 - D)
    assert LOSSES.get("minimax")().g_loss(FAKE).item() == pytest.approx(minimax, rel=1e-6)
    assert LOSSES.get("non_saturating")().g_loss(FAKE).item() == pytest.approx(non_sat, rel=1e-6)
    assert LOSSES.get("max_likelihood")().g_loss(FAKE).item() == pytest.approx(max_lik, rel=1e-6)


def test_stable_for_extreme_logits():
    big = torch.tensor([-200.0, 200.0])
    for name in ("minimax", "non_saturating"):
        obj = LOSSES.get(name)()
        assert torch.isfinite(obj.d_loss(big, big)) and torch.isfinite(obj.g_loss(big))
    # non-saturating: a confident D (very negative fake logit) still gives G a gradient of ~1
    x = torch.tensor([-30.0], requires_grad=True)
    LOSSES.get("non_saturating")().g_loss(x).backward()
    assert x.grad.item() == pytest.approx(-1.0, rel=1e-6)
    # minimax saturates there: the gradient vanishes (the reason for the non-saturating loss)
    y = torch.tensor([-30.0], requires_grad=True)
    LOSSES.get("minimax")().g_loss(y).backward()
    assert abs(y.grad.item()) < 1e-10


def test_unknown_loss_is_a_clear_error():
    from ganforge.errors import GanforgeError

    with pytest.raises(GanforgeError, match="did you mean 'minimax'"):
        LOSSES.get("minmax")
