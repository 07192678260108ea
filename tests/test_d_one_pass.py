"""D's real and fake batches in one pass (GANLoss.discriminator): only for a D whose output for a sample depends
on that sample alone; the same loss and gradients as two passes, packed and projection heads included."""

import pytest
import torch

from conftest import small_config
from ganforge.config import LossConfig
from ganforge.data.batches import DataInfo
from ganforge.models import build_discriminator
from ganforge.objectives.gan_loss import GANLoss, samples_independent
from ganforge.training.distributed import convert_sync_batchnorm

IMAGE = DataInfo(kind="image", shape=(3, 16, 16), num_classes=5)


def _d(conditioning="projection", **d):
    net = {"arch": "dcgan", "width": 8, "norm": "none", "spectral_norm": False, **d}
    cfg = small_config(data={"name": "mnist"}, model={"conditioning": conditioning, "d": net})
    torch.manual_seed(0)
    return build_discriminator(cfg.model, IMAGE)


def test_which_discriminators_treat_samples_independently():
    assert samples_independent(_d())
    assert samples_independent(_d(pack=2))  # packs group consecutive samples, each batch's own
    assert not samples_independent(_d(norm="batch"))
    assert not samples_independent(_d(mbstd_group=4))
    synced = convert_sync_batchnorm(_d(norm="batch"))  # model.sync_bn: the data-parallel batch norm
    assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in synced.modules())
    assert not samples_independent(synced)


@pytest.mark.parametrize("conditioning,pack", [("projection", 1), ("projection", 2), ("acgan", 1), ("none", 2)])
def test_one_pass_gives_the_two_pass_loss_and_gradients(conditioning, pack):
    D = _d(conditioning, pack=pack)
    loss = GANLoss(LossConfig(name="hinge"), conditioning=conditioning)
    gen = torch.Generator().manual_seed(1)
    real, fake = (torch.randn(8, 3, 16, 16, generator=gen) for _ in range(2))
    labelled = conditioning != "none"
    y_real = torch.randint(0, 5, (8 // pack,), generator=gen) if labelled else None
    y_fake = torch.randint(0, 5, (8 // pack,), generator=gen) if labelled else None
    calls = []
    handle = D.register_forward_hook(lambda m, args, out: calls.append(len(args[0])))
    total, _ = loss.discriminator(D, real, y_real, fake, y_fake)
    handle.remove()
    assert calls == [16]  # one pass over both batches
    grads = torch.autograd.grad(total, list(D.parameters()), allow_unused=True)
    (real_logits, real_cls), (fake_logits, fake_cls) = (D(x, y, return_classes=True)
                                                        for x, y in ((real, y_real), (fake, y_fake)))
    want = loss.objective.d_loss(real_logits, fake_logits)
    if conditioning == "acgan":
        term, weight = loss._class_term(real_cls, y_real, fake_cls, y_fake)
        want = want + weight * term
    want_grads = torch.autograd.grad(want, list(D.parameters()), allow_unused=True)
    torch.testing.assert_close(total, want, rtol=0, atol=1e-6)
    for g, w in zip(grads, want_grads):
        assert (g is None) == (w is None)
        if g is not None:
            torch.testing.assert_close(g, w, rtol=1e-5, atol=1e-6)


def test_batch_norm_discriminator_keeps_two_passes():
    D = _d(norm="batch")
    calls = []
    D.register_forward_hook(lambda m, args, out: calls.append(len(args[0])))
    y = torch.zeros(4, dtype=torch.long)
    GANLoss(LossConfig(name="hinge"), conditioning="projection").discriminator(
        D, torch.randn(4, 3, 16, 16), y, torch.randn(4, 3, 16, 16), y)
    assert calls == [4, 4]
