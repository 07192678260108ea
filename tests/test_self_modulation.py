"""Self-modulation (model.g_self_mod, Chen et al. 2019): the layer by hand, every generator architecture
with it, a new G computing what it would without it, z reaching it, its config errors, exact resume."""

import pytest
import torch

from conftest import assert_resume_is_exact, small_config
from ganforge.choices import validate
from ganforge.data.batches import DataInfo
from ganforge.errors import GanforgeError
from ganforge.models import build_generator
from ganforge.models.conditioning import ConditionalBatchNorm, SelfModulation

IMAGE = DataInfo(kind="image", shape=(3, 16, 16), num_classes=4)
NETS = {
    "dcgan": {"arch": "dcgan", "width": 8, "norm": "batch", "output": "tanh"},
    "resnet": {"arch": "resnet", "width": 8, "norm": "batch", "output": "tanh"},
    "conv": {"arch": "conv", "channels": [16, 8], "base": 4, "up": [2, 2], "kernel": 3, "upsample": "nearest",
             "norm": "batch", "output": "tanh"},
    "mlp": {"arch": "mlp", "hidden": [16, 16], "norm": "batch", "output": "tanh"},
}


def test_self_modulation_by_hand():
    torch.manual_seed(0)
    layer = SelfModulation(torch.nn.BatchNorm2d(3, affine=False), latent_dim=5, channels=3, hidden=4)
    x, z = torch.randn(6, 3, 4, 4), torch.randn(6, 5)
    plain = torch.nn.functional.batch_norm(x, None, None, training=True)
    assert torch.allclose(layer(x, None, z), plain, atol=1e-6)  # the last layers start at zero: no change
    with torch.no_grad():
        for mlp in (layer.gain, layer.bias):
            mlp[2].weight.normal_()
            mlp[2].bias.normal_()
    gain = layer.gain[2](torch.relu(layer.gain[0](z)))
    bias = layer.bias[2](torch.relu(layer.bias[0](z)))
    want = plain * (1 + gain[:, :, None, None]) + bias[:, :, None, None]
    assert torch.allclose(layer(x, None, z), want, atol=1e-5)
    with pytest.raises(GanforgeError, match="needs G's latent z"):
        layer(x, None, None)


def test_self_modulation_around_conditional_batch_norm_by_hand():
    """The class's gain and bias and z's, applied in one product and one sum, equal the two layers in turn."""
    torch.manual_seed(0)
    cbn = ConditionalBatchNorm(3, num_classes=4, spatial=True)
    layer = SelfModulation(cbn, latent_dim=5, channels=3, hidden=4)
    with torch.no_grad():
        for p in list(cbn.parameters()) + [layer.gain[2].weight, layer.bias[2].weight]:
            p.normal_()
    x, z, y = torch.randn(6, 3, 4, 4, dtype=torch.float64), torch.randn(6, 5), torch.tensor([0, 1, 2, 3, 1, 0])
    layer.double()
    z = z.double()
    gain = layer.gain[2](torch.relu(layer.gain[0](z)))[:, :, None, None]
    bias = layer.bias[2](torch.relu(layer.bias[0](z)))[:, :, None, None]
    cbn_out = torch.nn.functional.batch_norm(x, None, None, training=True) * cbn.gain(y)[:, :, None, None] \
        + cbn.bias(y)[:, :, None, None]
    torch.testing.assert_close(cbn(x, y), cbn_out, rtol=0, atol=1e-12)
    torch.testing.assert_close(layer(x, y, z), cbn_out * (1 + gain) + bias, rtol=0, atol=1e-12)


def _config(arch: str, **model):
    return small_config(data={"name": "mnist"}, model={"latent_dim": 6, "g": NETS[arch], **model})


@pytest.mark.parametrize("arch", sorted(NETS))
def test_every_generator_takes_self_modulation(arch):
    torch.manual_seed(0)
    info = DataInfo(kind="image", shape=(3, 16, 16)) if arch != "mlp" else DataInfo(kind="points", shape=(8,))
    plain = build_generator(_config(arch).model, info)
    torch.manual_seed(0)
    mod_cfg = _config(arch, g_self_mod=4).model
    modulated = build_generator(mod_cfg, info)
    layers = [m for m in modulated.modules() if isinstance(m, SelfModulation)]
    norms = [m for m in plain.modules() if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d))]
    assert len(layers) == len(norms) > 0  # every norm layer of G is modulated
    # the same weights apart from the modulation's (a norm's own entries sit under .norm): the same images at the start
    own = modulated.state_dict()

    def entry(key):
        head, _, last = key.rpartition(".")
        return own[key] if key in own else own[f"{head}.norm.{last}"]

    plain.load_state_dict({k: entry(k) for k in plain.state_dict()})
    z = torch.randn(10, 6)
    assert torch.allclose(plain(z), modulated(z), atol=1e-5)
    # once the modulation is not zero, images depend on z through it as well
    with torch.no_grad():
        for layer in layers:
            layer.bias[2].bias.fill_(0.5)
    assert not torch.allclose(plain(z), modulated(z), atol=1e-3)


def test_z_reaches_the_modulation_of_a_self_conditioned_generator():
    cfg = _config("conv", conditioning="projection", clusters=4, g_cbn=True, g_self_mod=4)
    torch.manual_seed(0)
    G = build_generator(cfg.model, IMAGE)
    z = torch.randn(8, 6, requires_grad=True)
    for layer in (m for m in G.modules() if isinstance(m, SelfModulation)):
        assert layer.norm.__class__.__name__ == "ConditionalBatchNorm"
        torch.nn.init.normal_(layer.gain[2].weight)
    G(z).sum().backward()
    first = [m for m in G.modules() if isinstance(m, SelfModulation)][0]
    assert first.gain[0].weight.grad.abs().sum() > 0
    assert z.grad.abs().sum() > 0


def test_self_modulation_config_errors():
    cfg = _config("conv", g_self_mod=4)
    cfg.model.g.norm = "none"
    with pytest.raises(GanforgeError, match="model.g_self_mod modulates G's norm layers"):
        build_generator(cfg.model, IMAGE)
    cfg = _config("conv", g_self_mod=-1)
    with pytest.raises(GanforgeError, match="g_self_mod"):
        validate(cfg)


def test_self_modulated_training_resumes_exactly():
    assert_resume_is_exact({"model": {"g_self_mod": 8, "g": {"hidden": [32], "output": "none", "norm": "batch"}}},
                           steps=8)
