"""The theory of the GAN game as pictures that ganforge computes itself.

- :func:`optimal_discriminator`: D*(x) = p_data(x) / (p_data(x) + p_g(x)) (Goodfellow et al. 2014,
  proposition 1), the best discriminator for a fixed generator; NaN where both densities vanish
  (there D* is undefined: no sample of either kind ever lands there).
- :func:`density_1d`: a Gaussian kernel density estimate of 1-D samples (the generator's p_g).
- :func:`save_gan_1d`: Goodfellow et al. 2014's figure 1 for a trained 1-D GAN: the data density and
  the generator's density (left axis), the trained D(x) and the optimal D*(x) for the current
  generator (right axis, probabilities).
- :func:`generator_gradients` / :func:`save_saturation`: why the original (minimax) generator
  loss saturates: the gradient of each generator loss with respect to D's logit as D(G(z)) goes
  from 0 to 1, computed by autograd through ganforge's own loss functions.
- Divergences of densities on a 1-D grid: :func:`kl_divergence`, :func:`js_divergence`,
  :func:`w1_distance` (the integral of |F_p - F_q|).
- :func:`nonsaturating_identity`: at the optimal D, the non-saturating generator loss
  E_{p_g}[-log D*] equals KL(p_g || p_data) - 2 JS(p_data || p_g) + log 4 + E_{p_data}[log D*]
  (Arjovsky & Bottou 2017); its last term does not move G: with D held at D*, the loss's gradient
  in G's parameters is that of KL - 2 JS. Both checked numerically on a grid.
- :func:`fit_gaussian` / :func:`save_kl_directions`: the single Gaussian closest to a two-mode target
  under KL(p_g || p_data) (mode-seeking), KL(p_data || p_g) (mode-covering: maximum likelihood),
  JS and KL - 2 JS, found numerically on the grid.
- :func:`shift_divergences` / :func:`save_js_vs_w1`: JS and Wasserstein-1 as one narrow uniform
  slides past another: JS stops at log 2 once the supports are apart, W1 grows as the shift.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from .figure import pyplot, save_figure

GENERATOR_GAMES = ("minimax", "non_saturating", "max_likelihood")


def optimal_discriminator(p_data, p_g, floor: float = 0.0) -> np.ndarray:
    """D*(x) = p_data / (p_data + p_g), elementwise; NaN where p_data + p_g <= ``floor`` (D* is
    undefined where both densities vanish; a plot leaves those x blank)."""
    p_data, p_g = np.asarray(p_data, np.float64), np.asarray(p_g, np.float64)
    total = p_data + p_g
    keep = total > floor
    return np.where(keep, p_data / np.where(keep, total, 1.0), np.nan)


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
    # D* is masked where both densities are below 1e-4 of their peak: numerically 0, D* a ratio of nothings
    floor = 1e-4 * (p_data + p_g).max()
    return {"x": x, "p_data": p_data, "p_g": p_g, "d": d, "d_star": optimal_discriminator(p_data, p_g, floor),
            "fake": fake}


def save_gan_1d(curves: dict, path: str | Path, title: str = "") -> Path:
    """Goodfellow et al. 2014's figure 1 from :func:`gan_1d_curves`. Left axis (densities): black dots
    p_data, green p_g, ticks below the axis: samples G(z). Right axis (probabilities, 0 to 1): blue
    dashes the trained D(x), red D*(x) = p_data / (p_data + p_g), blank where both densities vanish."""
    plt = pyplot()
    x = curves["x"]
    fig, ax = plt.subplots(figsize=(6.4, 4), dpi=100)
    top = max(1.5 * curves["p_data"].max(), 1.1)  # a narrow p_g early in training is clipped
    ax.plot(x, curves["p_data"], ":", color="black", lw=2, label="p_data (data)")
    ax.plot(x, curves["p_g"], "-", color="tab:green", lw=2, label="p_g (generator)")
    fake = curves["fake"][:200]
    ax.plot(fake, np.full_like(fake, -0.04 * top), "|", color="tab:green", alpha=0.4, ms=8)
    ax.set_xlim(x[0], x[-1])
    ax.set_ylim(-0.08 * top, top)
    ax.set_xlabel("x")
    ax.set_ylabel("density")
    pr = ax.twinx()
    pr.plot(x, curves["d"], "--", color="tab:blue", lw=2, label="D(x) (trained)")
    pr.plot(x, curves["d_star"], "-", color="tab:red", lw=1.2, alpha=0.8, label="D*(x) = p_data / (p_data + p_g)")
    pr.axhline(0.5, color="0.8", lw=0.8, zorder=0)
    pr.set_ylim(-0.08 * 1.05, 1.05)  # the same baseline as the density axis
    pr.set_ylabel("probability (D, D*)")
    lines = ax.get_lines()[:2] + pr.get_lines()[:2]
    ax.legend(lines, [line.get_label() for line in lines], loc="upper left", fontsize=8)
    return save_figure(fig, path, ax, title)


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


# ---------------------------------------------------------------------- divergences on a 1-D grid
def _weights(x) -> np.ndarray:
    """The width of each grid point's cell (so that sum(w * f) integrates f): the step on an even
    grid, where a density that is constant on cells (a uniform on whole cells) integrates exactly."""
    return np.gradient(np.asarray(x, np.float64))


def normal_density(x, mean: float, std: float) -> np.ndarray:
    x = np.asarray(x, np.float64)
    return np.exp(-0.5 * ((x - mean) / std) ** 2) / (std * math.sqrt(2 * math.pi))


def kl_divergence(p, q, x) -> float:
    """KL(p || q) = integral of p log(p / q) over the grid ``x``, 0 log 0 = 0; inf where p > 0 = q."""
    p, q = np.asarray(p, np.float64), np.asarray(q, np.float64)
    on = p > 0
    if np.any(on & (q <= 0)):
        return math.inf
    terms = np.zeros_like(p)
    terms[on] = p[on] * (np.log(p[on]) - np.log(q[on]))
    return float((_weights(x) * terms).sum())


def js_divergence(p, q, x) -> float:
    """JS(p || q) = KL(p || m) / 2 + KL(q || m) / 2 with m = (p + q) / 2, in nats (at most log 2)."""
    p, q = np.asarray(p, np.float64), np.asarray(q, np.float64)
    m = 0.5 * (p + q)
    return 0.5 * kl_divergence(p, m, x) + 0.5 * kl_divergence(q, m, x)


def w1_distance(p, q, x) -> float:
    """Wasserstein-1 distance of two densities on the grid ``x``: the integral of |F_p - F_q| (each
    density normalised on the grid first)."""
    w = _weights(x)
    p, q = np.asarray(p, np.float64) * w, np.asarray(q, np.float64) * w
    diff = np.cumsum(p / p.sum() - q / q.sum())[:-1]
    return float((np.abs(diff) * np.diff(np.asarray(x, np.float64))).sum())


def nonsaturating_identity(p_data, p_g, x) -> dict:
    """The non-saturating generator loss at the optimal D, term by term (x where p_g > 0):
    loss = E_{p_g}[-log D*], kl = KL(p_g || p_data), js = JS(p_data || p_g), rest = log 4 +
    E_{p_data}[log D*]; identity: loss = kl - 2 js + rest, error = the difference (0 up to rounding)."""
    p_data, p_g = np.asarray(p_data, np.float64), np.asarray(p_g, np.float64)
    w = _weights(x)
    d = optimal_discriminator(p_data, p_g)
    with np.errstate(divide="ignore", invalid="ignore"):
        loss = float(np.where(p_g > 0, w * p_g * -np.log(d), 0.0).sum())
        rest = math.log(4) + float(np.where(p_data > 0, w * p_data * np.log(d), 0.0).sum())
    kl, js = kl_divergence(p_g, p_data, x), js_divergence(p_data, p_g, x)
    return {"loss": loss, "kl": kl, "js": js, "rest": rest, "error": loss - (kl - 2 * js + rest)}


def frozen_d_gradient(p_data, x, mean: float, std: float, h: float = 1e-4) -> dict:
    """For p_g = N(mean, std^2): d/dmean of E_{p_g}[-log D*] with D* held at the optimum for
    p_g (the gradient G gets through the non-saturating loss when D is optimal), and d/dmean of
    KL(p_g || p_data) - 2 JS(p_data || p_g); both by central differences of step ``h``."""
    p_data = np.asarray(p_data, np.float64)
    w = _weights(x)
    d = optimal_discriminator(p_data, normal_density(x, mean, std))
    ok = np.isfinite(d) & (d > 0)

    def nonsat(m):
        return float((w * normal_density(x, m, std) * np.where(ok, -np.log(np.where(ok, d, 1.0)), 0.0)).sum())

    def kl_2js(m):
        p_g = normal_density(x, m, std)
        return kl_divergence(p_g, p_data, x) - 2 * js_divergence(p_data, p_g, x)

    return {"nonsat": (nonsat(mean + h) - nonsat(mean - h)) / (2 * h),
            "kl_2js": (kl_2js(mean + h) - kl_2js(mean - h)) / (2 * h)}


# the two-mode target of the KL-directions figure: 0.6 N(-2, 0.6^2) + 0.4 N(2, 0.6^2)
TWO_MODES = ((0.6, -2.0, 0.6), (0.4, 2.0, 0.6))
FIT_CRITERIA = {"reverse_kl": "KL(p_g || p_data)", "forward_kl": "KL(p_data || p_g)", "js": "JS(p_data || p_g)",
                "nonsat": "KL(p_g || p_data) - 2 JS"}


def mixture_1d(x, modes=TWO_MODES) -> np.ndarray:
    return sum(w * normal_density(x, m, s) for w, m, s in modes)


def criterion(name: str, p_data, p_g, x) -> float:
    if name == "reverse_kl":
        return kl_divergence(p_g, p_data, x)
    if name == "forward_kl":
        return kl_divergence(p_data, p_g, x)
    if name == "js":
        return js_divergence(p_data, p_g, x)
    if name == "nonsat":
        return kl_divergence(p_g, p_data, x) - 2 * js_divergence(p_data, p_g, x)
    raise KeyError(name)


def fit_gaussian(name: str, p_data, x, means=None, stds=None) -> dict:
    """The N(mean, std^2) that minimises ``criterion(name, p_data, p_g)`` on the grid ``x``: the best
    of a (mean, std) grid search, refined by Nelder-Mead. Returns mean, std, value, p_g."""
    from scipy.optimize import minimize

    means = np.linspace(x[0] / 2, x[-1] / 2, 61) if means is None else means
    stds = np.geomspace(0.2, 4.0, 31) if stds is None else stds
    best = min(((criterion(name, p_data, normal_density(x, m, s), x), m, s) for m in means for s in stds))

    def f(v):
        value = criterion(name, p_data, normal_density(x, v[0], math.exp(v[1])), x)
        return value if math.isfinite(value) else 1e9

    r = minimize(f, [best[1], math.log(best[2])], method="Nelder-Mead", options={"xatol": 1e-6, "fatol": 1e-10})
    mean, std = float(r.x[0]), float(math.exp(r.x[1]))
    return {"mean": mean, "std": std, "value": float(r.fun), "p_g": normal_density(x, mean, std)}


def save_kl_directions(path: str | Path, x=None, modes=TWO_MODES) -> tuple[Path, dict]:
    """Left: a two-mode target and the single Gaussian that each criterion picks (reverse KL seeks
    one mode, forward KL = maximum likelihood covers both, JS and the non-saturating loss's KL - 2 JS
    in between / mode-seeking). Right: the identity of the non-saturating loss checked along a
    slide of p_g: the frozen-D* gradient of E_{p_g}[-log D*] and the gradient of KL - 2 JS."""
    plt = pyplot()
    x = np.linspace(-8, 8, 3201) if x is None else np.asarray(x, np.float64)
    p = mixture_1d(x, modes)
    fits = {name: fit_gaussian(name, p, x) for name in FIT_CRITERIA}
    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4.4), dpi=100)
    a.fill_between(x, p, color="0.85", label="p_data (two modes)")
    styles = {"reverse_kl": ("tab:red", "-"), "forward_kl": ("tab:blue", "-"), "js": ("tab:orange", "--"),
              "nonsat": ("tab:purple", ":")}
    for name, fit in fits.items():
        color, ls = styles[name]
        a.plot(x, fit["p_g"], ls, color=color, lw=2,
               label=f"min {FIT_CRITERIA[name]}: N({fit['mean']:.2f}, {fit['std']:.2f}^2)")
    a.set_xlim(-6, 6)
    a.set_xlabel("x")
    a.set_ylabel("density")
    a.set_title("one Gaussian p_g fitted to two modes")
    a.legend(fontsize=8, loc="upper right")
    shifts = np.linspace(-4, 4, 81)
    std = 0.6
    grads = [frozen_d_gradient(p, x, m, std) for m in shifts]
    values = [nonsaturating_identity(p, normal_density(x, m, std), x) for m in shifts]
    g1 = np.array([g["nonsat"] for g in grads])
    g2 = np.array([g["kl_2js"] for g in grads])
    value_error = max(abs(v["error"]) for v in values)
    grad_error = float(np.abs(g1 - g2).max())
    b.plot(shifts, g2, color="tab:purple", lw=4, alpha=0.4, label="d/dmu [KL(p_g || p_data) - 2 JS(p_data || p_g)]")
    b.plot(shifts, g1, "--", color="black", lw=1.2, label="d/dmu E_{p_g}[-log D*], D* held fixed")
    b.axhline(0, color="0.7", lw=0.8)
    b.set_xlabel(f"mean mu of p_g = N(mu, {std:g}^2)")
    b.set_ylabel("gradient in mu")
    b.set_title(f"non-saturating loss at D*: max |gradient difference| {grad_error:.1e}", fontsize=10)
    b.text(0.02, 0.03, f"value identity: max |loss - (KL - 2 JS + log 4 + E_p_data[log D*])| = {value_error:.1e}",
           transform=b.transAxes, fontsize=8)
    b.legend(fontsize=8, loc="upper right")
    for ax in (a, b):
        ax.grid(alpha=0.3)
    return save_figure(fig, path), {"fits": {k: {kk: v[kk] for kk in ("mean", "std", "value")} for k, v in fits.items()},
                                    "grad_error": grad_error, "value_error": value_error}


def uniform_density(x, left: float, width: float) -> np.ndarray:
    x = np.asarray(x, np.float64)
    return np.where((x >= left) & (x < left + width), 1.0 / width, 0.0)


def shift_divergences(shifts, width: float = 0.5, x=None) -> dict:
    """JS and W1 between U[0, width) and U[s, s + width) for each shift s, on a grid of cell centres
    whose step divides ``width`` (a uniform covers whole cells; shifts should be multiples of it)."""
    shifts = np.asarray(shifts, np.float64)
    if x is None:
        step = width / 100
        lo, hi = round((min(shifts.min(), 0) - 1) / step), round((max(shifts.max(), 0) + width + 1) / step)
        x = (np.arange(lo, hi) + 0.5) * step
    p = uniform_density(x, 0.0, width)
    js = np.array([js_divergence(p, uniform_density(x, s, width), x) for s in shifts])
    w1 = np.array([w1_distance(p, uniform_density(x, s, width), x) for s in shifts])
    return {"shift": shifts, "js": js, "w1": w1, "x": x, "width": width}


def save_js_vs_w1(path: str | Path, width: float = 0.5, max_shift: float = 3.0) -> tuple[Path, dict]:
    """Left: the two uniforms at a few shifts. Middle: JS(p || q_s) rises, then stays at log 2 once
    the supports are apart (its gradient in s is 0 there). Right: W1(p, q_s) = |s|, linear."""
    plt = pyplot()
    r = shift_divergences(np.linspace(-max_shift, max_shift, 241), width)
    s = r["shift"]
    fig, (a, b, c) = plt.subplots(1, 3, figsize=(13, 3.8), dpi=100)
    x = np.linspace(-0.5, max_shift + width + 0.5, 2001)
    a.fill_between(x, uniform_density(x, 0, width), step="pre", color="0.8", label=f"p = U[0, {width:g}]")
    for shift, color in ((0.25, "tab:orange"), (1.0, "tab:red"), (2.5, "tab:purple")):
        a.plot(x, uniform_density(x, shift, width), color=color, lw=1.5, label=f"q = p shifted by {shift:g}")
    a.set_xlabel("x")
    a.set_ylabel("density")
    a.set_ylim(0, 1.5 / width)
    a.set_title("one distribution sliding past another")
    a.legend(fontsize=8, loc="upper right")
    b.plot(s, r["js"], color="tab:red", lw=2, label="JS(p || q)")
    b.axhline(math.log(2), color="0.4", ls="--", lw=1, label="log 2")
    b.axvspan(-max_shift, -width, color="0.93", zorder=0)
    b.axvspan(width, max_shift, color="0.93", zorder=0, label="supports apart: gradient 0")
    b.set_ylim(0, 0.8)
    b.legend(fontsize=8, loc="lower right")
    b.set_ylabel("JS divergence (nats)")
    b.set_title("JS saturates at log 2")
    c.plot(s, r["w1"], color="tab:blue", lw=2, label="W1(p, q) (grid)")
    c.plot(s, np.abs(s), ":", color="black", lw=1.5, label="|shift|")
    c.set_ylabel("Wasserstein-1 distance")
    c.set_title("W1 grows with the shift")
    c.legend(fontsize=8, loc="upper center")
    for ax in (b, c):
        ax.set_xlabel("shift of q")
        ax.set_xlim(-max_shift, max_shift)
    for ax in (a, b, c):
        ax.grid(alpha=0.3)
    apart = np.abs(s) >= width
    return save_figure(fig, path), {"js_apart_max_error": float(np.abs(r["js"][apart] - math.log(2)).max()),
                                    "w1_max_error": float(np.abs(r["w1"] - np.abs(s)).max())}
