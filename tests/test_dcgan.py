import pytest
import torch

from ganforge.config import ModelConfig, NetConfig
from ganforge.data.batches import DataInfo
from ganforge.errors import GanforgeError
from ganforge.models import build_discriminator, build_generator


def mcfg(**d):
    return ModelConfig(latent_dim=16, g=NetConfig(arch="dcgan", width=8, norm="batch", output="tanh"),
                       d=NetConfig(arch="dcgan", width=8, activation="leaky_relu", **d))


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 28, 28), (3, 32, 32), (3, 64, 64)])
def test_shapes_for_each_resolution(shape):
    cfg = mcfg()
    G, D = build_generator(cfg, DataInfo("image", shape)), build_discriminator(cfg, DataInfo("image", shape))
    x = G(torch.randn(4, 16))
    assert x.shape == (4, *shape) and x.abs().max() <= 1
    assert D(x).shape == (4,)
    convs = [m for m in G.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert len(convs) == {28: 2, 32: 3, 64: 4}[shape[1]]


def test_dcgan_discriminator_structure():
    D = build_discriminator(mcfg(norm="batch"), DataInfo("image", (1, 28, 28)))
    norms = [m for m in D.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(norms) == 1  # none after the first conv (DCGAN), one after the second
    assert any(isinstance(m, torch.nn.LeakyReLU) for m in D.modules())


def test_layer_norm_critic_has_no_batch_norm():
    D = build_discriminator(mcfg(norm="layer"), DataInfo("image", (1, 28, 28)))
    assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in D.modules())
    assert any(isinstance(m, torch.nn.GroupNorm) for m in D.modules())
    # per-sample normalisation: D of one sample does not depend on the others in the batch
    x = torch.randn(3, 1, 28, 28)
    assert torch.allclose(D(x)[:1], D(x[:1]), atol=1e-5)


def test_spectral_norm_bounds_each_layer():
    D = build_discriminator(mcfg(spectral_norm=True), DataInfo("image", (1, 28, 28)))
    D.train()
    for _ in range(30):  # power iterations converge during forward passes
        D(torch.randn(2, 1, 28, 28))
    sn_layers = [m for m in D.modules() if hasattr(m, "parametrizations")]
    assert len(sn_layers) == 3  # two convs and the head
    for m in sn_layers:
        w = m.weight.detach().flatten(1)
        assert torch.linalg.matrix_norm(w, ord=2) == pytest.approx(1.0, abs=0.05)


def test_packing_and_channels_last():
    cfg = mcfg(pack=2)
    cfg.channels_last = True
    D = build_discriminator(cfg, DataInfo("image", (3, 32, 32)))
    assert D.features[0].in_channels == 6
    assert D(torch.randn(6, 3, 32, 32)).shape == (3,)
    assert D.features[0].weight.is_contiguous(memory_format=torch.channels_last)


def test_unsupported_resolution_is_clear():
    with pytest.raises(GanforgeError, match="square images, got 48x40"):
        build_generator(mcfg(), DataInfo("image", (3, 48, 40)))
    with pytest.raises(GanforgeError, match="28, 32, 64"):
        build_generator(mcfg(), DataInfo("image", (3, 30, 30)))
