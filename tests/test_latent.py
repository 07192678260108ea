"""model.latent_categories: a one-hot part of the latent, drawn uniformly, in every place that draws z."""

import pytest
import torch

from conftest import small_config
from ganforge.build import build_experiment
from ganforge.choices import validate
from ganforge.data.toy import mixture_centers
from ganforge.errors import GanforgeError
from ganforge.export import _latent_description
from ganforge.sampling import generate
from ganforge.models.latent import sample_latent
from ganforge.training.trainer import Trainer


def draw(n, dim, dist, categories, scale=1.0, seed=0):
    g = torch.Generator()
    g.manual_seed(seed)
    return sample_latent(n, dim, dist, "cpu", g, categories, scale)


@pytest.mark.parametrize("dist", ["normal", "uniform"])
def test_the_first_k_entries_are_a_uniform_one_hot_code_and_the_rest_is_unchanged(dist):
    n, dim, k = 8000, 11, 8
    z, plain = draw(n, dim, dist, k), draw(n, dim, dist, 0)
    code = z[:, :k]
    assert set(code.unique().tolist()) == {0.0, 1.0}
    assert torch.equal(code.sum(dim=1), torch.ones(n))
    assert torch.equal(z[:, k:], plain[:, k:])  # the continuous entries are the draw without categories
    counts = torch.bincount(code.argmax(dim=1), minlength=k).float()
    # uniform: each category 1000 +- 3 std of a binomial (about 28)
    assert (counts - n / k).abs().max() < 3 * (n / k * (1 - 1 / k)) ** 0.5, counts
    assert torch.equal(plain, draw(n, dim, dist, 0))  # no categories: as before, seeded
    assert torch.equal(draw(n, dim, dist, k, scale=4.0), torch.cat([4 * code, z[:, k:]], 1))


def test_config_errors():
    with pytest.raises(GanforgeError, match=r"model.latent_categories \(4\) must be below model.latent_dim \(4\)"):
        validate(small_config(model={"latent_categories": 4}))
    with pytest.raises(GanforgeError, match="'model.latent_categories' must be >= 0"):
        validate(small_config(model={"latent_categories": -1}))
    with pytest.raises(GanforgeError, match="'model.latent_category_scale' must be > 0"):
        validate(small_config(model={"latent_categories": 2, "latent_category_scale": 0.0}))


def test_training_sampling_and_export_use_the_categories():
    cfg = small_config(model={"latent_dim": 10, "latent_categories": 8, "g": {"hidden": [64, 64]},
                              "d": {"hidden": [64, 64], "pack": 2}},
                       data={"batch_size": 128}, train={"steps": 2500}, optim={"g_lr": 1e-3, "d_lr": 1e-3})
    exp = build_experiment(cfg)
    trainer = Trainer(exp)
    z = trainer.latent(64)
    assert torch.equal(z[:, :8].sum(dim=1), torch.ones(64))
    centers = mixture_centers("ring8")

    def distance():
        x = generate(exp.G.eval(), cfg, 2000, seed=99)
        exp.G.train()
        return torch.cdist(x, centers).min(dim=1).values.mean().item()

    before = distance()
    trainer.run()
    after = distance()
    assert after * 5 <= before, (before, after)  # it learns the ring with a categorical latent as well
    assert _latent_description(cfg.model) == "entries 0..7: one-hot code of a uniform category of 8; the rest standard normal"
    assert _latent_description(small_config().model) == "standard normal"
    assert _latent_description(small_config(model={"latent_categories": 2, "latent_category_scale": 4.0}).model) == (
        "entries 0..1: one-hot code (hot entry 4) of a uniform category of 2; the rest standard normal")
