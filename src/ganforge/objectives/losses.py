"""GAN objectives computed from the discriminator's raw logits (stable softplus forms).

With D(x) = sigmoid(l(x)) and a real-label target t (t < 1 is one-sided label smoothing,
Salimans et al. 2016), the discriminator of every loss here minimises the binary
cross-entropy

    d_loss = E_x[softplus(l(x)) - t * l(x)] + E_z[softplus(l(G(z)))]
           = -E[t log D(x) + (1 - t) log(1 - D(x))] - E[log(1 - D(G(z)))],

and the generator costs differ (Goodfellow 2014; Goodfellow 2016, NIPS tutorial section 3.2):

- ``minimax``:        g_loss = E[log(1 - D(G(z)))]      = -E[softplus(l)]   (saturating)
- ``non_saturating``: g_loss = -E[log D(G(z))]          =  E[softplus(-l)]
- ``max_likelihood``: g_loss = -1/2 E[exp(sigma^-1(D))] = -1/2 E[exp(l)]

Losses on raw critic scores (no sigmoid):

- ``wasserstein`` (Arjovsky et al. 2017): d_loss = E[l(G(z))] - E[l(x)], g_loss = -E[l(G(z))]
  (use with the gradient penalty ``loss.gp_weight=10``: WGAN-GP, Gulrajani et al. 2017)
- ``hinge`` (Lim & Ye 2017; Miyato et al. 2018): d_loss = E[relu(1 - l(x))] + E[relu(1 + l(G(z)))],
  g_loss = -E[l(G(z))]
- ``least_squares`` (LSGAN, Mao et al. 2017, a=0, b=t, c=1): d_loss = 1/2 E[(l(x) - t)^2] +
  1/2 E[l(G(z))^2], g_loss = 1/2 E[(l(G(z)) - 1)^2]

``score(logits)`` is what the logs call D(x) and D(G(z)): the mean probability sigmoid(l) for the
cross-entropy losses, the mean raw score for the others.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..registry import Registry


class Objective:
    """A GAN loss: ``d_loss(real_logits, fake_logits)`` = ``d_real(real_logits) + d_fake(fake_logits)``
    (every D loss here is a sum of a real and a fake term: ``train.d_split`` steps on each alone) and
    ``g_loss(fake_logits)``."""

    name = ""
    label_smoothing = True  # whether loss.real_label < 1 means anything for this loss

    def __init__(self, real_label: float = 1.0):
        self.real_label = float(real_label)

    def d_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        return self.d_real(real_logits) + self.d_fake(fake_logits)

    def d_real(self, real_logits: torch.Tensor) -> torch.Tensor:
        return (F.softplus(real_logits) - self.real_label * real_logits).mean()

    def d_fake(self, fake_logits: torch.Tensor) -> torch.Tensor:
        return F.softplus(fake_logits).mean()

    def g_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def score(self, logits: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(logits).mean()


class RawScoreObjective(Objective):
    def score(self, logits: torch.Tensor) -> torch.Tensor:
        return logits.mean()


LOSSES: Registry = Registry("loss", "loss.name")


@LOSSES.register("minimax")
class Minimax(Objective):
    name = "minimax"

    def g_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        return -F.softplus(fake_logits).mean()


@LOSSES.register("non_saturating")
class NonSaturating(Objective):
    name = "non_saturating"

    def g_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        return F.softplus(-fake_logits).mean()


@LOSSES.register("max_likelihood")
class MaxLikelihood(Objective):
    name = "max_likelihood"

    def g_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        return -0.5 * torch.exp(fake_logits).mean()


@LOSSES.register("wasserstein")
class Wasserstein(RawScoreObjective):
    name = "wasserstein"
    label_smoothing = False

    def d_real(self, real_logits: torch.Tensor) -> torch.Tensor:
        return -real_logits.mean()

    def d_fake(self, fake_logits: torch.Tensor) -> torch.Tensor:
        return fake_logits.mean()

    def g_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        return -fake_logits.mean()


@LOSSES.register("hinge")
class Hinge(RawScoreObjective):
    name = "hinge"
    label_smoothing = False

    def d_real(self, real_logits: torch.Tensor) -> torch.Tensor:
        return F.relu(1.0 - real_logits).mean()

    def d_fake(self, fake_logits: torch.Tensor) -> torch.Tensor:
        return F.relu(1.0 + fake_logits).mean()

    def g_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        return -fake_logits.mean()


@LOSSES.register("least_squares")
class LeastSquares(RawScoreObjective):
    name = "least_squares"

    def d_real(self, real_logits: torch.Tensor) -> torch.Tensor:
        return 0.5 * (real_logits - self.real_label).pow(2).mean()

    def d_fake(self, fake_logits: torch.Tensor) -> torch.Tensor:
        return 0.5 * fake_logits.pow(2).mean()

    def g_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        return 0.5 * (fake_logits - 1.0).pow(2).mean()


def build_objective(lcfg) -> Objective:
    return LOSSES.get(lcfg.name)(real_label=lcfg.real_label)
