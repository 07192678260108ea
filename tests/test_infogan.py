"""model.latent_info (InfoGAN): D's Q head predicts the latent category of fake samples; D and G both
minimise its cross-entropy, weighted by loss.info_weight."""

import math

import pytest
import torch
import torch.nn.functional as F

from conftest import small_config
from ganforge.build import build_experiment
from ganforge.config import ModelConfig, NetConfig
from ganforge.choices import validate
from ganforge.data.batches import DataInfo
from ganforge.errors import GanforgeError
from ganforge.models import build_discriminator
from ganforge.objectives.gan_loss import GANLoss
from ganforge.training.callbacks import Callback
from ganforge.training.trainer import Trainer


def info_config(**over):
    model = {"latent_dim": 12, "latent_categories": 8, "latent_info": True, "g": {"hidden": [64, 64]},
             "d": {"hidden": [64, 64]}}
    model.update(over.pop("model", {}))
    return small_config(model=model, **over)


@pytest.mark.parametrize("arch", ["mlp", "dcgan", "resnet"])
def test_q_head_gives_category_logits_and_is_spectrally_normalised(arch):
    info = DataInfo("image", (1, 28, 28), 10)
    net = NetConfig(arch=arch, width=8, hidden=[16], spectral_norm=True)
    D = build_discriminator(ModelConfig(latent_dim=20, latent_categories=6, latent_info=True, d=net), info)
    x = torch.randn(4, 1, 28, 28)
    out, q = D(x, None, return_classes=True)
    assert out.shape == (4,) and q.shape == (4, 6)
    assert hasattr(D.head.info, "parametrizations")  # spectral norm reaches Q's weight too
    plain = build_discriminator(ModelConfig(latent_dim=20, latent_categories=6, d=net), info)
    assert plain(x, None, return_classes=True)[1] is None
    assert not any(k.startswith("head.info") for k in plain.state_dict())


def test_losses_equal_the_hand_formula():
    torch.manual_seed(0)
    cfg = info_config(loss={"info_weight": 0.5})
    exp = build_experiment(cfg)
    loss, D = exp.loss, exp.D
    real, fake = torch.randn(16, 2), torch.randn(16, 2)
    codes = torch.randint(0, 8, (16,))
    total, stats = loss.discriminator(D, real, None, fake, codes)
    r_logit, f_logit = D(real), D(fake)
    q = D(fake, None, return_classes=True)[1]
    d_adv = F.softplus(-r_logit).mean() + F.softplus(f_logit).mean()
    ce = F.cross_entropy(q, codes)
    assert torch.allclose(total, d_adv + 0.5 * ce, atol=1e-6)
    assert torch.allclose(stats[4], ce, atol=1e-6)  # logged as d_class_loss
    g_total, g_adv = loss.generator(D, fake, codes)
    assert torch.allclose(g_adv, F.softplus(-f_logit).mean(), atol=1e-6)
    assert torch.allclose(g_total, g_adv + 0.5 * ce, atol=1e-6)
    assert "d_class_loss" in loss.logged()
    assert "d_class_loss" not in GANLoss(cfg.loss).logged()


def test_trainer_hands_the_latent_categories_and_q_learns_them():
    cfg = info_config(train={"steps": 300}, optim={"g_lr": 1e-3, "d_lr": 1e-3}, log={"every": 50})
    exp = build_experiment(cfg)
    trainer = Trainer(exp)
    seen = []
    orig = exp.loss.discriminator

    def spy(D, real, y_real, fake, y_fake):
        seen.append((fake.detach(), y_fake))
        return orig(D, real, y_real, fake, y_fake)

    exp.loss.discriminator = spy
    gen = torch.Generator().manual_seed(cfg.seed + 1)
    torch.randn(32, 12, generator=gen)  # the trainer's own latent stream, replayed: normal entries first
    k = torch.randint(0, 8, (32,), generator=gen)
    trainer.train_step()
    fake, codes = seen[0]
    assert torch.equal(codes, k)  # the categories of the z that made this fake batch
    assert fake.shape == (32, 2)
    exp.loss.discriminator = orig
    records = []

    class Keep(Callback):
        def on_log(self, tr, record):
            records.append(record)

    trainer.callbacks.append(Keep())
    trainer.run()
    first, last = records[0]["d_class_loss"], records[-1]["d_class_loss"]
    # Q starts near chance (log 8 = 2.08) and learns to tell G's categories apart
    print(first, last)
    assert first > 1.5 and last < 0.3 * math.log(8), (first, last)


def test_config_errors():
    with pytest.raises(GanforgeError, match="set model.latent_categories"):
        validate(small_config(model={"latent_info": True}))
    with pytest.raises(GanforgeError, match="set model.conditioning=none"):
        validate(small_config(data={"name": "mnist"}, model={"latent_dim": 12, "latent_categories": 4,
                                                              "latent_info": True, "conditioning": "acgan"}))
    with pytest.raises(GanforgeError, match="set model.d.pack=1"):
        validate(info_config(model={"d": {"hidden": [64, 64], "pack": 2}}))
    with pytest.raises(GanforgeError, match="'loss.info_weight' must be >= 0"):
        validate(info_config(loss={"info_weight": -1.0}))
