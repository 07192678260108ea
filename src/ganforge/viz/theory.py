"""The theory of the GAN game as pictures that ganforge computes itself.

- :func:`optimal_discriminator`: D*(x) = p_data(x) / (p_data(x) + p_g(x)) (Goodfellow et al. 2014,
  proposition 1), the best discriminator for a fixed generator.
- :func:`density_1d`: a Gaussian kernel density estimate of 1-D samples (the generator's p_g).
- :func:`save_gan_1d`: Goodfellow et al. 2014's figure 1 for a trained 1-D GAN: the data density,
  the generator's density, the trained D(x) and the optimal D*(x) for the current generator.
- :func:`generator_gradients` / :func:`save_saturation`: why the original (minimax) generator
  loss saturates: the gradient of each generator loss with respect to D's logit as D(G(z)) goes
  from 0 to 1, computed by autograd through ganforge's own loss functions.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from .figure import pyplot, save_figure

GENERATOR_GAMES = ("minimax", "non_saturating", "max_likelihood")


def optimal_discriminator(p_data, p_g) -> np.ndarray:
    """D*(x) = p_data / (p_data + p_g), elementwise; 0.5 where both densities vanish."""
    p_data, p_g = np.asarray(p_data, np.float64), np.asarray(p_g, np.float64)
    total = p_data + p_g
    return np.where(total > 0, p_data / np.where(total > 0, total, 1.0), 0.5)


def density_1d(samples, x, bandwidth: float | None = None) -> np.ndarray:
    """Gaussian kernel density estimate of ``samples`` (N,) at ``x`` (M,). Bandwidth: Scott's rule."""
    s = np.asarray(samples, np.float64).reshape(-1)
    x = np.asarray(x, np.float64).reshape(-1)
    if bandwidth is None:
        bandwidth = max(1.06 * s.std() * len(s) ** (-1 / 5), 1e-3)
    u = (x[:, None] - s[None, :]) / bandwidth
    return np.exp(-0.5 * u * u).sum(1) / (len(s) * bandwidth * math.sqrt(2 * math.pi))


@torch.no_grad()
def gan_1d_curves(G, D, z, data: str, x=None, y=None) -> dict:
    """Everything the 1-D figure draws: ``x`` (a grid), p_data, p_g (a density estimate of G(z)),
    D(x) = sigmoid(D's logit) and D*(x); also the samples G(z)."""
    from ..data.toy import mixture_centers, mixture_density, mixture_std

    fake = G(z, y).float().reshape(-1).cpu().numpy()
    if x is None:
        c, s = mixture_centers(data).reshape(-1).numpy(), mixture_std(data)
        lo = min(c.min() - 4 * s, np.percentile(fake, 1) - 1.0)
        hi = max(c.max() + 4 * s, np.percentile(fake, 99) + 1.0)
        x = np.linspace(lo, hi, 400)
    x = np.asarray(x, np.float64)
    p_data = mixture_density(data, torch.from_numpy(x)[:, None]).numpy()
    p_g = density_1d(fake, x)
    device = next(D.parameters()).device
    pack = getattr(D, "pack", 1)  # PacGAN: each point packed with copies of itself
    grid = torch.as_tensor(x, dtype=torch.float32, device=device)[:, None].repeat_interleave(pack, 0)
    logits = D(grid)
    logits = logits[0] if isinstance(logits, tuple) else logits
    d = torch.sigmoid(logits.float().reshape(-1)).cpu().numpy()
    return {"x": x, "p_data": p_data, "p_g": p_g, "d": d, "d_star": optimal_discriminator(p_data, p_g),
            "fake": fake}


def save_gan_1d(curves: dict, path: str | Path, title: str = "") -> Path:
    """Goodfellow et al. 2014's figure 1 from :func:`gan_1d_curves`: black dots p_data, green p_g,
    blue dashes the trained D(x), red D*(x) = p_data / (p_data + p_g); ticks below: samples G(z)."""
    plt = pyplot()
    x = curves["x"]
    fig, ax = plt.subplots(figsize=(6.4, 4), dpi=100)
    top = max(1.5 * curves["p_data"].max(), 1.1)  # a narrow p_g early in training is clipped
    ax.plot(x, curves["p_data"], ":", color="black", lw=2, label="p_data (data)")
    ax.plot(x, curves["p_g"], "-", color="tab:green", lw=2, label="p_g (generator)")
    ax.plot(x, curves["d"], "--", color="tab:blue", lw=2, label="D(x) (trained)")
    ax.plot(x, curves["d_star"], "-", color="tab:red", lw=1.2, alpha=0.8, label="D*(x) = p_data / (p_data + p_g)")
    fake = curves["fake"][:200]
    ax.plot(fake, np.full_like(fake, -0.04 * top), "|", color="tab:green", alpha=0.4, ms=8)
    ax.axhline(0.5, color="0.8", lw=0.8, zorder=0)
    ax.set_xlim(x[0], x[-1])
    ax.set_ylim(-0.08 * top, top)
    ax.set_xlabel("x")
    return save_figure(fig, path, ax, title, legend="upper left")


def generator_gradients(games=GENERATOR_GAMES, d_of_fake=None) -> dict:
    """For each game, the generator loss and its gradient with respect to D's logit l at the
    probabilities ``d_of_fake`` = D(G(z)) = sigmoid(l), by autograd through ganforge's losses.
    Returns {'d': D(G(z)), game: {'loss', 'grad'}}."""
    from ..objectives.losses import LOSSES

    p = np.linspace(1e-3, 1 - 1e-3, 999) if d_of_fake is None else np.asarray(d_of_fake, np.float64)
    out = {"d": p}
    for game in games:
        objective = LOSSES.get(game)()
        l = torch.tensor(np.log(p) - np.log1p(-p), dtype=torch.float64, requires_grad=True)
        losses = torch.stack([objective.g_loss(l[i:i + 1]) for i in range(len(p))])
        (grad,) = torch.autograd.grad(losses.sum(), l)
        out[game] = {"loss": losses.detach().numpy(), "grad": grad.numpy()}
    return out


def save_saturation(path: str | Path, games=GENERATOR_GAMES) -> Path:
    """Two panels over D(G(z)) in (0, 1): each generator loss, and the size of its gradient with
    respect to D's logit (log scale). Early in training D rejects the fakes (D(G(z)) near 0): there
    the minimax loss's gradient vanishes (it saturates) and the non-saturating one's is largest."""
    plt = pyplot()
    r = generator_gradients(games)
    p = r["d"]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4), dpi=100)
    styles = {"minimax": ("tab:red", "minimax: log(1 - D(G(z)))"),
              "non_saturating": ("tab:blue", "non-saturating: -log D(G(z))"),
              "max_likelihood": ("tab:green", "maximum likelihood: -exp(l) / 2")}
    for game in games:
        color, label = styles.get(game, (None, game))
        a.plot(p, r[game]["loss"], color=color, lw=2, label=label)
        b.plot(p, np.abs(r[game]["grad"]), color=color, lw=2, label=label)
    a.set_xlabel("D(G(z))")
    a.set_ylabel("generator loss")
    a.set_ylim(-5, 5)
    a.set_title("generator losses")
    b.set_yscale("log")
    b.set_xlabel("D(G(z))")
    b.set_ylabel("|d loss / d logit|")
    b.set_title("gradient reaching the generator (autograd)")
    b.axvspan(0, 0.1, color="0.9", zorder=0)
    b.text(0.02, 2e-3, "D rejects the fakes\n(start of training)", fontsize=8)
    for ax in (a, b):
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    return save_figure(fig, path)
