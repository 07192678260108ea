"""Mode seeking (MSGAN, loss.mode_seeking): the term by hand, the label-sharing pairs the trainer builds
for it, and a generator that ignored z learning to use it."""

import pytest
import torch

from conftest import assert_resume_is_exact, small_config
from ganforge.build import build_experiment
from ganforge.choices import validate
from ganforge.errors import GanforgeError
from ganforge.objectives.penalties import mode_seeking
from ganforge.training.trainer import Trainer

SC = {"data": {"name": "mnist", "batch_size": 16},
      "model": {"conditioning": "acgan", "clusters": 6, "g_cbn": True,
                "g": {"hidden": [32], "output": "tanh", "norm": "batch"}, "d": {"hidden": [32]}},
      "loss": {"mode_seeking": 1.0}, "log": {"n_samples": 12}}


def test_mode_seeking_by_hand():
    fake = torch.tensor([[0.0, 1.0], [2.0, 2.0], [1.0, 1.0], [0.0, 0.0], [9.0, 9.0]])  # the odd last row is left out
    z = torch.tensor([[1.0], [0.0], [0.0], [2.0], [5.0]])
    images = (abs(0 - 1) + abs(1 - 1) + abs(2 - 0) + abs(2 - 0)) / 4  # rows (0, 2) and (1, 3)
    latents = (abs(1 - 0) + abs(0 - 2)) / 2
    assert mode_seeking(fake, z).item() == pytest.approx(1 / (images / latents + 1e-5))
    with pytest.raises(ValueError, match="at least 2"):
        mode_seeking(fake[:1], z[:1])


def test_mode_seeking_at_a_coarse_size_ignores_pixel_noise():
    torch.manual_seed(0)
    base = torch.rand(4, 3, 8, 8)
    checker = (torch.arange(8)[:, None] + torch.arange(8)) % 2 * 2 - 1.0  # +-1 alternating: averages to 0 in 2x2
    noisy = base.clone()
    noisy[2:] = noisy[:2] + 0.5 * checker  # the pairs differ only by a checkerboard
    z = torch.randn(4, 5)
    latents = (z[:2] - z[2:]).abs().mean().item()
    assert mode_seeking(noisy, z).item() == pytest.approx(1 / (0.5 / latents + 1e-5), rel=1e-5)
    assert mode_seeking(noisy, z, size=4).item() > 0.99 / 1e-5  # no difference left: the term is at its maximum
    pooled = torch.nn.functional.avg_pool2d(base, 2)
    assert mode_seeking(base, z, size=4).item() == pytest.approx(mode_seeking(pooled, z).item(), rel=1e-5)
    assert mode_seeking(pooled, z, size=4).item() == mode_seeking(pooled, z).item()  # already that size


def test_mode_seeking_teaches_a_generator_to_use_z():
    """G(z) = w z + b with a tiny w nearly ignores z: a few steps on the term alone make the outputs differ."""
    torch.manual_seed(0)
    G = torch.nn.Linear(4, 8)
    torch.nn.init.normal_(G.weight, std=1e-4)
    opt = torch.optim.SGD(G.parameters(), lr=0.1)
    z = torch.randn(32, 4)
    spread = lambda: (G(z[:16]) - G(z[16:])).abs().mean().item()  # noqa: E731
    assert spread() < 1e-3
    for _ in range(5):
        opt.zero_grad()
        mode_seeking(G(z), z).backward()
        opt.step()
    assert spread() > 0.05


def test_trainer_pairs_latents_that_share_a_cluster(fake_mnist):
    cfg = small_config(**SC)
    exp = build_experiment(cfg, progress=False)
    trainer = Trainer(exp)
    seen = []
    orig = trainer.g_step

    def spy(fake, y_fake, z):
        seen.append((y_fake.clone(), z.clone()))
        return orig(fake, y_fake, z)

    trainer.g_step = spy
    trainer.train_step()
    y, z = seen[0]
    assert torch.equal(y[:8], y[8:]) and torch.equal(exp.G.clusters_of(z), y)  # pairs share the cluster z picks
    assert torch.equal(z[:8, :1], z[8:, :1]) and not torch.equal(z[:8, 1:], z[8:, 1:])  # other entries differ


def test_trainer_pairs_class_labels_of_a_conditional_generator(fake_mnist):
    cfg = small_config(data={"name": "mnist", "batch_size": 10}, model={"conditioning": "acgan",
                       "g": {"hidden": [32], "output": "tanh"}, "d": {"hidden": [32]}}, loss={"mode_seeking": 2.0})
    trainer = Trainer(build_experiment(cfg, progress=False))
    z = torch.randn(10, cfg.model.latent_dim)
    y = torch.arange(10)
    z2, y2 = trainer.pair_latents(z, y)
    assert torch.equal(y2, torch.tensor([0, 1, 2, 3, 4, 0, 1, 2, 3, 4])) and torch.equal(z2, z)  # z unchanged
    assert torch.equal(y, torch.arange(10))  # the inputs are not modified


def test_mode_seeking_run_resumes_exactly(fake_mnist):
    assert_resume_is_exact(SC, keys=("d_loss", "g_loss", "d_class_loss"))


def test_negative_weight_and_a_batch_without_pairs_are_refused():
    with pytest.raises(GanforgeError, match="loss.mode_seeking"):
        validate(small_config(loss={"mode_seeking": -1.0}))
    with pytest.raises(GanforgeError, match="batch_size to 2"):
        validate(small_config(data={"batch_size": 1}, loss={"mode_seeking": 1.0}))


@pytest.mark.parametrize("space", ["pixels", "d_features"])
def test_the_g_step_compares_pixels_or_d_features(space, monkeypatch):
    """loss.mode_seeking_space: the term gets the fake images, or D's features of them (what its head
    receives, carrying G's gradient), with the G step's latents."""
    import ganforge.training.trainer as trainer_module
    from ganforge.objectives.gan_loss import head_input

    cfg = small_config(model={"g": {"hidden": [32], "output": "none"}, "d": {"hidden": [24]}},
                       loss={"mode_seeking": 0.5, "mode_seeking_space": space})
    exp = build_experiment(cfg, progress=False)
    trainer = Trainer(exp)
    calls = []
    real_term = trainer_module.mode_seeking
    monkeypatch.setattr(trainer_module, "mode_seeking", lambda x, z, size=0: calls.append((x, z)) or real_term(x, z))
    torch.manual_seed(3)
    z = torch.randn(32, cfg.model.latent_dim)
    fake = exp.G(z)
    trainer.g_step(fake, None, z)
    compared, latents = calls[0]
    assert torch.equal(latents, z)
    if space == "pixels":
        assert compared is fake
    else:
        with torch.no_grad(), head_input(exp.D) as seen:
            exp.D(fake)
        assert compared.shape == (32, 24) and torch.allclose(compared, seen[0], atol=1e-6)
        assert compared.requires_grad  # G learns through D's features


def test_mode_seeking_in_d_features_resumes_exactly(fake_mnist):
    assert_resume_is_exact(dict(SC, loss={"mode_seeking": 1.0, "mode_seeking_space": "d_features"}),
                           keys=("d_loss", "g_loss", "d_class_loss"))


def test_mode_seeking_space_errors():
    with pytest.raises(GanforgeError, match="mode_seeking_space"):
        validate(small_config(loss={"mode_seeking": 1.0, "mode_seeking_space": "inception"}))
    with pytest.raises(GanforgeError, match="mode_seeking_size=0 or mode_seeking_space=pixels"):
        validate(small_config(loss={"mode_seeking": 1.0, "mode_seeking_space": "d_features", "mode_seeking_size": 4}))
    with pytest.raises(GanforgeError, match="model.d.pack=1"):
        validate(small_config(model={"d": {"pack": 2}}, loss={"mode_seeking": 1.0, "mode_seeking_space": "d_features"}))
