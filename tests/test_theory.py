"""The theory pictures: the generator losses' gradients, D*, and the 1-D GAN of Goodfellow et al. 2014."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.cli import main
from ganforge.viz.theory import density_1d, gan_1d_curves, generator_gradients, optimal_discriminator, save_saturation

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def test_generator_gradients_by_hand():
    p = np.array([0.001, 0.1, 0.5, 0.9, 0.999])
    r = generator_gradients(d_of_fake=p)
    # d/dl of -softplus(l), softplus(-l) and -exp(l)/2, with sigmoid(l) = p
    np.testing.assert_allclose(r["minimax"]["grad"], -p, rtol=1e-9)
    np.testing.assert_allclose(r["non_saturating"]["grad"], -(1 - p), rtol=1e-9)
    np.testing.assert_allclose(r["max_likelihood"]["grad"], -0.5 * p / (1 - p), rtol=1e-9)
    np.testing.assert_allclose(r["minimax"]["loss"], np.log1p(-p), rtol=1e-9)
    np.testing.assert_allclose(r["non_saturating"]["loss"], -np.log(p), rtol=1e-9)
    # the saturation: when D rejects the fakes, minimax's gradient is 1000x smaller than the non-saturating one's
    assert abs(r["minimax"]["grad"][0]) * 500 < abs(r["non_saturating"]["grad"][0])


def test_saturation_figure(tmp_path):
    out = save_saturation(tmp_path / "s.png")
    assert Image.open(out).size[0] > 500


def test_optimal_discriminator_is_masked_where_both_densities_vanish():
    np.testing.assert_allclose(optimal_discriminator([1.0, 3.0, 0.0, 0.0], [1.0, 1.0, 2.0, 0.0]), [0.5, 0.75, 0.0, np.nan])
    # with a floor, a ratio of two numerically vanishing densities is undefined too
    np.testing.assert_allclose(optimal_discriminator([1.0, 1e-9], [3.0, 1e-9], floor=1e-6), [0.25, np.nan])


def test_density_1d_estimates_a_normal_density():
    s = np.random.default_rng(0).normal(2.0, 0.5, 20000)
    x = np.linspace(0, 4, 81)
    est = density_1d(s, x)
    true = np.exp(-0.5 * ((x - 2) / 0.5) ** 2) / (0.5 * np.sqrt(2 * np.pi))
    assert np.abs(est - true).max() < 0.05
    assert est.sum() * (x[1] - x[0]) == pytest.approx(1.0, abs=0.01)


def test_gan_1d_learns_the_gaussian_and_d_follows_d_star(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = tmp_path / "g1"
    assert main(["train", str(CONFIGS / "gan1d.toml"), "train.steps=800", "log.sample_every=400",
                 "log.progress=false", "--run-dir", str(run)]) == 0
    frames = sorted((run / "samples").glob("step_*.png"))
    assert [f.name for f in frames] == ["step_000000.png", "step_000400.png", "step_000800.png"]
    from ganforge.build import build_experiment
    from ganforge.choices import load_config

    cfg = load_config(run / "config.toml")
    state = torch.load(run / "checkpoints" / "last.pt", weights_only=False)
    exp = build_experiment(cfg, device="cpu")
    exp.G.load_state_dict(state["g_ema"] if state.get("g_ema") else state["g"])
    exp.D.load_state_dict(state["d"])
    exp.G.eval(), exp.D.eval()
    z = torch.randn(4000, 1, generator=torch.Generator().manual_seed(0))
    c = gan_1d_curves(exp.G, exp.D, z, "gauss1d")
    assert abs(c["fake"].mean() - 2.0) < 0.3 and abs(c["fake"].std() - 0.5) < 0.25  # G found the data
    weight = c["p_g"] / c["p_g"].sum()
    assert (weight * np.abs(c["d"] - c["d_star"])).sum() < 0.1  # D near D* where p_g has mass
    r = main(["eval", str(run), "--json", str(tmp_path / "e.json")])
    assert r == 0
    assert main(["sample", str(run), "--n", "500", "--out", str(tmp_path / "h.png")]) == 0


# ------------------------------------------------- divergences, the KL - 2 JS identity, JS vs W1
from scipy import stats  # noqa: E402

from ganforge.viz import theory as T  # noqa: E402


def test_divergences_against_scipy():
    x = np.linspace(-10, 10, 4001)
    p, q = T.normal_density(x, 0.0, 1.0), T.normal_density(x, 1.0, 2.0)
    # closed form KL(N(0,1) || N(1,4)) = log 2 + (1 + 1) / 8 - 1/2
    assert T.kl_divergence(p, q, x) == pytest.approx(np.log(2) + 2 / 8 - 0.5, abs=1e-6)
    assert T.kl_divergence(p, q, x) == pytest.approx(stats.entropy(p, q), abs=1e-3)
    m = 0.5 * (p + q)
    assert T.js_divergence(p, q, x) == pytest.approx(0.5 * stats.entropy(p, m) + 0.5 * stats.entropy(q, m), abs=1e-3)
    assert T.w1_distance(p, q, x) == pytest.approx(stats.wasserstein_distance(x, x, p, q), abs=1e-3)
    assert T.kl_divergence(q, np.where(x > 0, p, 0.0), x) == float("inf")  # q has mass where p has none


def test_nonsaturating_loss_is_kl_minus_two_js_at_the_optimal_d():
    x = np.linspace(-8, 8, 3201)
    p = T.mixture_1d(x)
    for mean, std in ((-3.0, 0.5), (0.3, 1.2), (2.0, 0.6)):
        r = T.nonsaturating_identity(p, T.normal_density(x, mean, std), x)
        assert abs(r["error"]) < 1e-9 and 0 < r["js"] < np.log(2)
        g = T.frozen_d_gradient(p, x, mean, std)
        assert g["nonsat"] == pytest.approx(g["kl_2js"], rel=1e-5, abs=1e-7)


def test_one_gaussian_fitted_to_two_modes():
    x = np.linspace(-8, 8, 3201)
    p = T.mixture_1d(x)  # 0.6 N(-2, 0.6^2) + 0.4 N(2, 0.6^2)
    forward = T.fit_gaussian("forward_kl", p, x)  # maximum likelihood = moment matching
    assert forward["mean"] == pytest.approx(-0.4, abs=1e-3)
    assert forward["std"] == pytest.approx(np.sqrt(0.36 + 0.6 * 4 + 0.4 * 4 - 0.16), abs=1e-3)
    for name in ("reverse_kl", "nonsat"):  # mode seeking: one mode, the heavier one
        fit = T.fit_gaussian(name, p, x)
        assert fit["mean"] == pytest.approx(-2.0, abs=0.05) and fit["std"] == pytest.approx(0.6, abs=0.05)


def test_js_saturates_at_log_2_while_w1_grows_with_the_shift(tmp_path):
    r = T.shift_divergences(np.array([0.0, 0.125, 0.25, 0.5, 1.0, 3.0]), width=0.5)
    np.testing.assert_allclose(r["js"], [0, 0.25 * np.log(2), 0.5 * np.log(2), np.log(2), np.log(2), np.log(2)], atol=1e-9)
    np.testing.assert_allclose(r["w1"], [0, 0.125, 0.25, 0.5, 1.0, 3.0], atol=1e-9)
    path, info = T.save_js_vs_w1(tmp_path / "jsw1.png")
    assert info["js_apart_max_error"] < 1e-9 and Image.open(path).size[0] > 800


# ------------------------------------------------- the three games and the WGAN-GP critic, trained
from ganforge.viz import theory_games as TG  # noqa: E402


def test_three_games_record_d_of_fake_and_the_gradient_each_game_passes():
    torch.set_num_threads(3)  # train_games runs on 1 thread, then gives the caller's setting back
    r = TG.train_games(steps=120, every=10, n_samples=2000)
    assert torch.get_num_threads() == 3
    for game in ("minimax", "non_saturating", "max_likelihood"):
        g = r[game]
        assert list(g["step"]) == list(range(0, 121, 10)) and len(g["samples"]) == 2000
        assert np.all(g["grad_g"] > 0) and np.all((g["d_fake"] > 0) & (g["d_fake"] < 1))
    # |d loss / d logit| per fake: sigmoid(l) for minimax, 1 - sigmoid(l) for non-saturating, so its mean is
    # mean D(G(z)) and 1 - mean D(G(z))
    np.testing.assert_allclose(r["minimax"]["grad_logit"], r["minimax"]["d_fake"], rtol=1e-4)
    np.testing.assert_allclose(r["non_saturating"]["grad_logit"], 1 - r["non_saturating"]["d_fake"], rtol=1e-4)
    # D wins early (D(G(z)) near 0); there minimax passes ~100x less gradient than non-saturating
    mm, ns = r["minimax"], r["non_saturating"]
    low = int(mm["d_fake"].argmin())
    assert mm["d_fake"][low] < 0.05 and mm["grad_logit"][low] * 20 < ns["grad_logit"][low]


def test_recording_the_games_does_not_change_the_training():
    from ganforge.build import build_experiment
    from ganforge.choices import load_config
    from ganforge.training.trainer import Trainer

    weights = []
    for callbacks in ([], [TG.GameRecorder(5)]):
        cfg = load_config(TG.GAN1D, ["train.steps=30", "log.progress=false", "log.every=10"])
        exp = build_experiment(cfg, device=torch.device("cpu"), progress=False)
        Trainer(exp, callbacks).run()
        weights.append(torch.cat([p.detach().reshape(-1) for p in exp.G.parameters()]))
    assert torch.equal(weights[0], weights[1])


def test_wgan_gp_critic_has_slope_about_one_between_the_distributions(tmp_path):
    torch.set_num_threads(3)
    r = TG.train_wgan_gp_critic(steps=600)
    assert torch.get_num_threads() == 3
    slope = r["grad"][TG.between(r)].mean()
    # the soft penalty's optimum is slope 1 + W1 / (2 lambda) = 1.15 here (W1 = 3, lambda = 10)
    assert r["w1"] == pytest.approx(3.0, abs=0.01)
    assert 0.9 < slope < 1.3 and r["w1_estimate"] == pytest.approx(r["w1"] * slope, rel=0.15)
    assert Image.open(TG.save_critic(r, tmp_path / "c.png")).size[0] > 800
