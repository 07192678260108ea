import pytest
import torch

from ganforge.config import ModelConfig, NetConfig
from ganforge.data.batches import DataInfo
from ganforge.errors import GanforgeError
from ganforge.models import build_discriminator, build_generator


def test_mlp_shapes_and_range():
    mcfg = ModelConfig(latent_dim=100, g=NetConfig(hidden=[256, 512], activation="leaky_relu", output="tanh"),
                       d=NetConfig(hidden=[512, 256], dropout=0.3))
    info = DataInfo("image", (1, 28, 28))
    G, D = build_generator(mcfg, info), build_discriminator(mcfg, info)
    x = G(torch.randn(8, 100) * 10)
    assert x.shape == (8, 1, 28, 28) and x.abs().max() <= 1
    assert D(x).shape == (8,)
    layer_sizes = [m.out_features for m in G.modules() if isinstance(m, torch.nn.Linear)]
    assert layer_sizes == [256, 512, 784]


def test_classic_net_sizes():
    mcfg = ModelConfig(latent_dim=100, g=NetConfig(hidden=[128], output="tanh"), d=NetConfig(hidden=[128]))
    info = DataInfo("image", (1, 28, 28))
    g_shapes = [tuple(p.shape) for p in build_generator(mcfg, info).parameters()]
    d_shapes = [tuple(p.shape) for p in build_discriminator(mcfg, info).parameters()]
    assert g_shapes == [(128, 100), (128,), (784, 128), (784,)]
    assert d_shapes == [(128, 784), (128,), (1, 128), (1,)]


def test_packed_discriminator_judges_groups():
    mcfg = ModelConfig(latent_dim=2, d=NetConfig(hidden=[16], pack=4))
    D = build_discriminator(mcfg, DataInfo("points", (2,)))
    assert D(torch.randn(12, 2)).shape == (3,)
    assert D.net[0].in_features == 8
    with pytest.raises(GanforgeError, match="multiple of model.d.pack"):
        D(torch.randn(10, 2))


def test_wrong_input_shape_is_clear():
    D = build_discriminator(ModelConfig(), DataInfo("image", (1, 28, 28)))
    with pytest.raises(GanforgeError, match=r"expects samples of shape \(1, 28, 28\), got \(3, 28, 28\)"):
        D(torch.randn(2, 3, 28, 28))
