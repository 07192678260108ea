"""Theory pictures that train networks: the three generator games on the 1-D GAN, and a WGAN-GP
critic between two 1-D distributions.

- :class:`GameRecorder`: a trainer callback that, every few generator steps, measures on a fixed
  batch of latents (its own RNG, so the training is unchanged) the mean D(G(z)), the mean size of
  the generator loss's derivative with respect to D's logit on each fake sample, |d loss_i / d l_i|,
  and the L2 norm of the batch loss's gradient with respect to all of G's weights.
- :func:`train_games`: trains the ``gan1d`` preset once per game (``loss.name`` = minimax,
  non_saturating, max_likelihood; the same seed and everything else) with that recorder, in memory
  (no run directory), and returns the curves and the samples each generator ends with.
- :func:`save_games`: one figure of that: D(G(z)) over steps, both gradient sizes over steps (log
  scale), and each game's final sample histogram against the data density.
- :func:`train_wgan_gp_critic` / :func:`save_critic`: a 1-D critic (the gan1d discriminator MLP)
  trained with the Wasserstein loss and gradient penalty 10 (Gulrajani et al. 2017) between the
  gauss1d data and a fixed second distribution; the figure shows the critic, |f'(x)| (about 1
  between the two distributions, where the transport happens) and its estimate of W1 against the
  exact one.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import torch

from ..presets import preset_path
from ..training.callbacks import Callback
from .figure import pyplot, save_figure
from .theory import GENERATOR_GAMES, normal_density, w1_distance

GAN1D = preset_path("gan1d")
GAME_STYLES = {"minimax": ("tab:red", "minimax"), "non_saturating": ("tab:blue", "non-saturating"),
               "max_likelihood": ("tab:green", "maximum likelihood")}


@contextlib.contextmanager
def torch_threads(n: int):
    """``torch.set_num_threads(n)`` inside the block and the previous number restored after it
    (0: leave it as it is)."""
    before = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _module(m):
    return getattr(m, "module", m)


class GameRecorder(Callback):
    """Every ``every`` generator steps (and at step 0): on ``n`` fixed latents, the mean D(G(z)), the
    mean over fakes of |d loss_i / d l_i| (l = D's logit on the fake, loss_i = the generator loss
    of that one sample: the quantity of the saturation figure) and ||grad_theta_G loss||_2 (the
    batch-mean loss, all of G's weights)."""

    def __init__(self, every: int, n: int = 1024, seed: int = 0):
        self.every, self.n, self.seed = every, n, seed
        self.steps: list[int] = []
        self.d_fake: list[float] = []
        self.grad_logit: list[float] = []
        self.grad_g: list[float] = []

    def on_start(self, trainer) -> None:
        gen = torch.Generator(device=trainer.device)
        gen.manual_seed(self.seed + 4242)
        self.z = trainer.latent(self.n, generator=gen)
        if trainer.step == 0:
            self.measure(trainer)

    def on_step(self, trainer) -> None:
        if trainer.step % self.every == 0:
            self.measure(trainer)

    def measure(self, trainer) -> None:
        G, D = _module(trainer.G), _module(trainer.D)
        objective = trainer.loss.objective
        params = [p for p in G.parameters() if p.requires_grad]
        logits = D(G(self.z, None)).float().reshape(-1)
        loss = objective.g_loss(logits)
        grads = torch.autograd.grad(loss, [logits, *params])  # autograd.grad: no .grad is touched
        self.steps.append(trainer.step)
        self.d_fake.append(torch.sigmoid(logits).mean().item())
        self.grad_logit.append((grads[0].abs() * len(logits)).mean().item())  # loss is a batch mean
        self.grad_g.append(torch.sqrt(sum((g.double() ** 2).sum() for g in grads[1:])).item())

    def curves(self) -> dict:
        return {"step": np.array(self.steps), "d_fake": np.array(self.d_fake),
                "grad_logit": np.array(self.grad_logit), "grad_g": np.array(self.grad_g)}


def train_games(steps: int = 2000, games=GENERATOR_GAMES, every: int = 10, config: str | Path = GAN1D,
                overrides=(), n_samples: int = 20000, threads: int = 1) -> dict:
    """Train the 1-D GAN once per game with a :class:`GameRecorder` (``every`` steps), in memory.
    Returns {game: curves} (see :meth:`GameRecorder.curves`) with each game's final samples under
    ``'samples'``, plus 'x' and 'p_data' (the data density on a grid) and the config's overrides."""
    from ..build import build_experiment
    from ..choices import load_config
    from ..data.toy import mixture_density
    from ..training.trainer import Trainer

    with torch_threads(threads):
        out = {}
        for game in games:
            cfg = load_config(config, [f"loss.name={game}", f"train.steps={steps}", "log.progress=false",
                                       f"log.every={min(every, steps)}", *overrides])
            exp = build_experiment(cfg, device=torch.device("cpu"), progress=False)
            recorder = GameRecorder(every)
            trainer = Trainer(exp, [recorder])
            trainer.run()
            curves = recorder.curves()
            gen = torch.Generator().manual_seed(cfg.seed + 999)
            with torch.no_grad():
                G = trainer.sampling_generator
                G.eval()
                z = torch.randn(n_samples, cfg.model.latent_dim, generator=gen)
                curves["samples"] = G(z, None).float().reshape(-1).numpy().astype(np.float64)
            out[game] = curves
        x = np.linspace(-1.0, 4.0, 501)
        out["data"] = cfg.data.name
        out["x"], out["p_data"] = x, mixture_density(out["data"], torch.from_numpy(x)[:, None]).numpy()
        out["games"], out["overrides"] = tuple(games), tuple(overrides)
        return out


def save_games(r: dict, path: str | Path, title: str = "") -> Path:
    """D(G(z)) over training, the two gradient sizes over training (log scale), and one histogram of
    final samples per game over the data density."""
    plt = pyplot()
    games = r["games"]
    fig = plt.figure(figsize=(13, 7.2), dpi=100)
    grid = fig.add_gridspec(2, max(3, len(games)))
    a, b, c = (fig.add_subplot(grid[0, i]) for i in range(3))
    for game in games:
        color, label = GAME_STYLES.get(game, (None, game))
        g = r[game]
        a.plot(g["step"], g["d_fake"], color=color, lw=1.6, label=label)
        b.plot(g["step"], g["grad_logit"], color=color, lw=1.6, label=label)
        c.plot(g["step"], g["grad_g"], color=color, lw=1.0, alpha=0.9, label=label)
    a.axhline(0.5, color="0.6", lw=0.8, ls="--")
    a.set_ylim(0, 1)
    a.set_ylabel("mean D(G(z))")
    a.set_title("D(G(z)): 1/2 = D cannot tell")
    b.set_yscale("log")
    b.set_ylabel("mean over fakes of |d loss / d logit|")
    b.set_title("gradient reaching D's logit")
    c.set_yscale("log")
    c.set_ylabel("||grad of G loss w.r.t. G's weights||")
    c.set_title("gradient reaching G's weights")
    for ax in (a, b, c):
        ax.set_xlabel("generator step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    x, p = r["x"], r["p_data"]
    for i, game in enumerate(games):
        ax = fig.add_subplot(grid[1, i])
        color, label = GAME_STYLES.get(game, (None, game))
        s = r[game]["samples"]
        ax.hist(s, bins=np.linspace(x[0], x[-1], 101), density=True, color=color, alpha=0.45,
                label=f"G(z), final (mean {s.mean():.2f}, std {s.std():.2f})")
        ax.plot(x, p, ":", color="black", lw=2, label="p_data")
        ax.set_xlim(x[0], x[-1])
        ax.set_ylim(0, 1.6 * p.max())
        ax.set_xlabel("x")
        ax.set_ylabel("density")
        ax.set_title(f"{label}: G after {int(r[game]['step'][-1])} steps", fontsize=10)
        ax.legend(fontsize=8, loc="upper left")
    if title:
        fig.suptitle(title)
    return save_figure(fig, path)


def train_wgan_gp_critic(steps: int = 1500, fake=(-1.0, 0.25), gp_weight: float = 10.0, lr: float = 1e-3,
                         config: str | Path = GAN1D, seed: int = 0, threads: int = 1) -> dict:
    """Train the gan1d discriminator MLP as a WGAN-GP critic f, alone, between the config's data
    (real) and a fixed normal N(fake[0], fake[1]^2) (fake): minimise E f(fake) - E f(real) +
    gp_weight * E[(|f'(x_hat)| - 1)^2] at random interpolates (ganforge's ``wasserstein`` loss and
    ``gradient_penalty``), Adam(lr, (0.5, 0.9)). Returns the grid 'x', both densities, f(x) and
    |f'(x)| on it, the critic's W1 estimate E f(real) - E f(fake) on fresh samples, the exact W1
    and the loss curve."""
    from ..build import build_experiment
    from ..choices import load_config
    from ..data.toy import mixture_density
    from ..objectives.losses import LOSSES
    from ..objectives.penalties import gradient_penalty

    with torch_threads(threads):
        cfg = load_config(config, ["log.progress=false", f"seed={seed}"])
        exp = build_experiment(cfg, device=torch.device("cpu"), progress=False)
        D = exp.D
        objective = LOSSES.get("wasserstein")()
        opt = torch.optim.Adam(D.parameters(), lr=lr, betas=(0.5, 0.9))
        gen = torch.Generator().manual_seed(seed + 7)
        mu, sd = fake
        batch = cfg.data.batch_size
        losses = []
        for _ in range(steps):
            real, _ = exp.data.next()
            fk = mu + sd * torch.randn(batch, 1, generator=gen)
            loss = objective.d_loss(D(real).reshape(-1), D(fk).reshape(-1))
            total = loss + gp_weight * gradient_penalty(lambda v: D(v), real, fk)
            opt.zero_grad(set_to_none=True)
            total.backward()
            opt.step()
            losses.append(-loss.item())
        x = np.linspace(-2.5, 4.0, 651)
        xt = torch.tensor(x, dtype=torch.float32)[:, None].requires_grad_(True)
        f = D(xt).reshape(-1)
        (df,) = torch.autograd.grad(f.sum(), xt)
        p_data = mixture_density(cfg.data.name, torch.from_numpy(x)[:, None]).numpy()
        p_fake = normal_density(x, mu, sd)
        with torch.no_grad():
            real = torch.cat([exp.data.next()[0] for _ in range(40)])
            fk = mu + sd * torch.randn(len(real), 1, generator=gen)
            estimate = (D(real).mean() - D(fk).mean()).item()
        return {"x": x, "p_data": p_data, "p_fake": p_fake, "f": f.detach().numpy().astype(np.float64),
                "grad": df.abs().reshape(-1).numpy().astype(np.float64), "w1_estimate": estimate,
                "w1": w1_distance(p_data, p_fake, x), "loss": np.array(losses), "fake": fake, "steps": steps,
                "gp_weight": gp_weight}


def between(r: dict, lo_q: float = 0.1, hi_q: float = 0.1) -> np.ndarray:
    """A mask of the grid between the two distributions: x where the fake CDF has passed 1 - hi_q and
    the real one has not yet reached lo_q (the fake lies left of the data here)."""
    x = r["x"]
    dx = np.gradient(x)
    cf, cr = np.cumsum(r["p_fake"] * dx), np.cumsum(r["p_data"] * dx)
    return (cf >= 1 - hi_q) & (cr <= lo_q)


def save_critic(r: dict, path: str | Path) -> Path:
    """The two densities, the trained critic f(x) (shifted so that its mean on the grid is 0) and
    |f'(x)| with the band between the distributions shaded."""
    plt = pyplot()
    x = r["x"]
    mask = between(r)
    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4.2), dpi=100)
    a.plot(x, r["p_data"], ":", color="black", lw=2, label="p_data = N(2, 0.5^2)")
    mu, sd = r["fake"]
    a.plot(x, r["p_fake"], "-", color="tab:green", lw=2, label=f"p_g = N({mu:g}, {sd:g}^2) (fixed)")
    a.set_xlabel("x")
    a.set_ylabel("density")
    ta = a.twinx()
    ta.plot(x, r["f"] - r["f"].mean(), "-", color="tab:purple", lw=2, label="critic f(x)")
    ta.set_ylabel("critic f(x) (raw score)")
    lines = a.get_lines() + ta.get_lines()
    a.legend(lines, [l.get_label() for l in lines], fontsize=8, loc="upper left")
    a.set_title(f"WGAN-GP critic after {r['steps']} steps (lambda {r['gp_weight']:g}): "
                f"W1 estimate {r['w1_estimate']:.2f}, exact {r['w1']:.2f}", fontsize=9)
    b.plot(x, r["grad"], color="tab:purple", lw=2, label="|f'(x)|")
    b.axhline(1.0, color="0.5", ls="--", lw=1, label="1 (the gradient penalty's target)")
    if mask.any():
        b.axvspan(x[mask][0], x[mask][-1], color="0.9", zorder=0,
                  label=f"between the two: mean |f'| = {r['grad'][mask].mean():.3f}")
    b.set_ylim(0, max(1.6, 1.1 * r["grad"].max()))
    b.set_xlabel("x")
    b.set_ylabel("|df/dx|")
    b.set_title("the critic's slope: about 1 where mass must move")
    b.legend(fontsize=8, loc="upper left")
    for ax in (a, b):
        ax.set_xlim(x[0], x[-1])
        ax.grid(alpha=0.3)
    return save_figure(fig, path)
