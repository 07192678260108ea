"""Wasserstein, hinge and least-squares losses by hand; gradient penalty and R1 against a manual
autograd computation."""

import pytest
import torch

from ganforge.config import LossConfig
from ganforge.objectives import LOSSES, build_objective
from ganforge.objectives.penalties import Penalties, gradient_penalty, r1_penalty

REAL = torch.tensor([2.0, -1.0, 0.5])
FAKE = torch.tensor([-3.0, 0.0, 1.5])


def test_wasserstein_by_hand():
    obj = LOSSES.get("wasserstein")()
    assert obj.d_loss(REAL, FAKE).item() == pytest.approx((-3 + 0 + 1.5) / 3 - (2 - 1 + 0.5) / 3)
    assert obj.g_loss(FAKE).item() == pytest.approx(-(-3 + 0 + 1.5) / 3)
    assert obj.score(REAL).item() == pytest.approx(0.5)  # raw mean score, not a probability


def test_hinge_by_hand():
    obj = LOSSES.get("hinge")()
    real_terms = [max(0, 1 - 2.0), max(0, 1 + 1.0), max(0, 1 - 0.5)]  # 0, 2, 0.5
    fake_terms = [max(0, 1 - 3.0), max(0, 1 + 0.0), max(0, 1 + 1.5)]  # 0, 1, 2.5
    assert obj.d_loss(REAL, FAKE).item() == pytest.approx(sum(real_terms) / 3 + sum(fake_terms) / 3)
    assert obj.g_loss(FAKE).item() == pytest.approx(0.5)


@pytest.mark.parametrize("t", [1.0, 0.9])
def test_least_squares_by_hand(t):
    obj = build_objective(LossConfig(name="least_squares", real_label=t))
    d = 0.5 * sum((r - t) ** 2 for r in REAL.tolist()) / 3 + 0.5 * sum(f ** 2 for f in FAKE.tolist()) / 3
    g = 0.5 * sum((f - 1) ** 2 for f in FAKE.tolist()) / 3
    assert obj.d_loss(REAL, FAKE).item() == pytest.approx(d)
    assert obj.g_loss(FAKE).item() == pytest.approx(g)


class Quadratic(torch.nn.Module):
    """D(x) = sum(w * x^2) per sample: grad_x D = 2 w x, easy to check by hand."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.tensor([[0.5, -1.0], [2.0, 0.25]]))

    def forward(self, x):
        return (self.w * x.pow(2)).flatten(1).sum(1)


def test_gradient_penalty_matches_manual_autograd():
    D = Quadratic()
    real, fake = torch.randn(5, 2, 2), torch.randn(5, 2, 2)
    torch.manual_seed(3)
    gp = gradient_penalty(D, real, fake)
    torch.manual_seed(3)  # the same interpolation weights
    e = torch.rand(5, 1, 1)
    x_hat = e * real + (1 - e) * fake
    by_hand = ((2 * D.w.detach() * x_hat).flatten(1).norm(dim=1) - 1).pow(2).mean()
    assert gp.item() == pytest.approx(by_hand.item(), rel=1e-5)
    gp.backward()  # create_graph: the penalty trains D
    assert D.w.grad is not None and torch.isfinite(D.w.grad).all()


def test_r1_matches_manual_and_is_lazy():
    D = Quadratic()
    real = torch.randn(4, 2, 2, requires_grad=True)
    r1 = r1_penalty(D(real), real)
    assert r1.item() == pytest.approx((2 * D.w.detach() * real.detach()).flatten(1).pow(2).sum(1).mean().item())
    pen = Penalties(LossConfig(r1_gamma=10.0, r1_every=4))
    applied = []
    for _ in range(8):
        due = pen.r1_due()
        x = torch.randn(4, 2, 2, requires_grad=True)
        out = pen(D, x, x, D(x))
        applied.append(out is not None)
        if due:
            # lazy: gamma / 2 * every * E||grad||^2
            assert out.item() == pytest.approx(0.5 * 10 * 4 * r1_penalty(D(x), x).item(), rel=1e-5)
    assert applied == [True, False, False, False, True, False, False, False]
