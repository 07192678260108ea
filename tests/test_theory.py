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


def test_optimal_discriminator():
    np.testing.assert_allclose(optimal_discriminator([1.0, 3.0, 0.0, 0.0], [1.0, 1.0, 2.0, 0.0]), [0.5, 0.75, 0.0, 0.5])


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
    from ganforge.config import load_config

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
