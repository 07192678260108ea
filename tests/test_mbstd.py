"""Minibatch standard deviation (ProGAN / StyleGAN2): the layer against a by-hand computation, and
its use in the dcgan and resnet discriminators (``model.d.mbstd_group``, ``mbstd_channels``)."""

import math

import pytest
import torch

from ganforge.config import ModelConfig, NetConfig
from ganforge.data.batches import DataInfo
from ganforge.errors import GanforgeError
from ganforge.models import build_discriminator
from ganforge.models.layers import MinibatchStd, mbstd_group_size


def by_hand(x: torch.Tensor, group_size: int, num_channels: int) -> torch.Tensor:
    """Loops over groups: sample i is in group i mod (N/G); per group and channel slice, the mean
    over (channels of the slice, rows, columns) of the biased std over the group's samples."""
    n, c, h, w = x.shape
    g = max(d for d in range(1, min(group_size, n) + 1) if n % d == 0)
    m, per = n // g, c // num_channels
    stats = torch.zeros(n, num_channels, dtype=x.dtype)
    for j in range(m):
        members = [j + a * m for a in range(g)]
        for f in range(num_channels):
            vals = [x[i, f * per:(f + 1) * per] for i in members]
            mean = sum(vals) / g
            var = sum((v - mean) ** 2 for v in vals) / g
            s = torch.sqrt(var + 1e-8).mean()
            for i in members:
                stats[i, f] = s
    maps = stats[:, :, None, None].expand(n, num_channels, h, w)
    return torch.cat([x, maps], dim=1)


@pytest.mark.parametrize("n,group_size,num_channels", [
    (8, 1, 1), (8, 2, 1), (8, 4, 1), (8, 4, 2), (8, 2, 2),
    (6, 4, 1),   # 6 is not a multiple of 4: groups of 3
    (7, 4, 2),   # prime: groups of 1
    (3, 4, 1),   # fewer samples than the group size: one group of 3
    (10, 4, 2),  # groups of 2
])
def test_matches_a_by_hand_computation(n, group_size, num_channels):
    torch.manual_seed(n * 10 + group_size)
    x = torch.randn(n, 4, 3, 5, dtype=torch.float64)
    got = MinibatchStd(group_size, num_channels)(x)
    assert got.shape == (n, 4 + num_channels, 3, 5)
    assert torch.equal(got[:, :4], x)
    assert torch.allclose(got, by_hand(x, group_size, num_channels), atol=1e-12)


def test_group_of_one_gives_sqrt_epsilon():
    x = torch.randn(5, 2, 4, 4)
    out = MinibatchStd(1, 2)(x)
    assert torch.allclose(out[:, 2:], torch.full((5, 2, 4, 4), math.sqrt(1e-8)))


def test_group_sizes():
    assert [mbstd_group_size(n, 4) for n in (1, 2, 3, 4, 6, 7, 8, 9, 12)] == [1, 2, 3, 4, 3, 1, 4, 3, 4]


def test_statistic_is_the_group_spread():
    # a group of identical samples has (near) zero std; a spread-out group does not
    same = torch.ones(4, 1, 2, 2)
    spread = torch.arange(4.0).view(4, 1, 1, 1).expand(4, 1, 2, 2)
    layer = MinibatchStd(4)
    assert layer(same)[:, 1].max() == pytest.approx(1e-4)
    assert layer(spread)[:, 1].min() == pytest.approx(torch.arange(4.0).std(unbiased=False).item(), rel=1e-6)


def test_gradients_flow():
    x = torch.randn(8, 4, 3, 3, dtype=torch.float64, requires_grad=True)
    layer = MinibatchStd(4, 2)
    layer(x)[:, 4:].sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    assert torch.autograd.gradcheck(lambda t: layer(t), (x.detach().clone().requires_grad_(),))


def test_channels_last_input():
    x = torch.randn(8, 4, 3, 3)
    out = MinibatchStd(4)(x.contiguous(memory_format=torch.channels_last))
    assert torch.allclose(out, MinibatchStd(4)(x))


def test_bad_settings_are_clear():
    with pytest.raises(GanforgeError, match="group_size >= 1"):
        MinibatchStd(0)
    with pytest.raises(GanforgeError, match="do not split"):
        MinibatchStd(2, 3)(torch.randn(4, 4, 2, 2))


def mcfg(arch, **d):
    return ModelConfig(latent_dim=8, g=NetConfig(arch=arch, width=8, norm="batch", output="tanh"),
                       d=NetConfig(arch=arch, width=8, **d))


@pytest.mark.parametrize("arch", ["dcgan", "resnet"])
@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
@pytest.mark.parametrize("num_channels", [1, 2])
def test_discriminators_with_mbstd(arch, shape, num_channels):
    info = DataInfo("image", shape)
    plain = build_discriminator(mcfg(arch), info)
    D = build_discriminator(mcfg(arch, mbstd_group=4, mbstd_channels=num_channels), info)
    assert plain.mbstd is None and isinstance(D.mbstd, MinibatchStd)
    assert (D.mbstd.group_size, D.mbstd.num_channels) == (4, num_channels)
    # the head sees num_channels more feature maps (dcgan: flattened base x base maps; resnet: pooled)
    spatial = plain.base ** 2 if arch == "dcgan" else 1
    assert D.head.linear.in_features == plain.head.linear.in_features + num_channels * spatial
    x = torch.randn(8, *shape)
    assert D(x).shape == (8,)
    assert D(x[:6]).shape == (6,)  # 6 is not a multiple of the group size: groups of 3
    # only the head's weight grows; every other state-dict entry keeps its key and shape
    a, b = plain.state_dict(), D.state_dict()
    assert a.keys() == b.keys()
    assert [k for k in a if a[k].shape != b[k].shape] == ["head.linear.weight"]


@pytest.mark.parametrize("arch", ["dcgan", "resnet"])
def test_mbstd_makes_d_see_the_batch(arch):
    torch.manual_seed(0)
    D = build_discriminator(mcfg(arch, mbstd_group=4), DataInfo("image", (1, 28, 28))).eval()
    x = torch.randn(4, 1, 28, 28)
    varied = D(x)
    collapsed = D(x[:1].expand(4, 1, 28, 28).contiguous())
    assert not torch.allclose(varied[0], collapsed[0])  # the same image, judged with different company


def test_mbstd_channels_must_divide_the_features():
    with pytest.raises(GanforgeError, match="mbstd_channels=3 must divide"):
        build_discriminator(mcfg("resnet", mbstd_group=4, mbstd_channels=3), DataInfo("image", (1, 28, 28)))


def test_mbstd_with_packing():
    D = build_discriminator(mcfg("resnet", mbstd_group=4, pack=2), DataInfo("image", (1, 28, 28)))
    assert D(torch.randn(16, 1, 28, 28)).shape == (8,)
