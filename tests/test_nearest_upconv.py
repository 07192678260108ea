"""NearestUpConv2d: nearest x2 upsampling and a 'same' conv computed as one transposed conv; the same
function and gradients as the two layers, the FLOPs it computes, old runs' parameter names."""

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from conftest import small_config
from ganforge.data.batches import DataInfo
from ganforge.flops import forward_layers
from ganforge.models import build_generator
from ganforge.models.conv import NearestUpConv2d


@pytest.mark.parametrize("kernel", [3, 5])
def test_equals_upsampling_then_conv_with_gradients(kernel):
    torch.manual_seed(0)
    fused = NearestUpConv2d(5, 3, kernel).double()
    plain = nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"),
                          nn.Conv2d(5, 3, kernel, padding=kernel // 2)).double()
    plain[1].load_state_dict(fused.state_dict())
    x = torch.randn(2, 5, 7, 6, dtype=torch.float64, requires_grad=True)  # odd, non-square sides: the borders
    out_f, out_p = fused(x), plain(x)
    assert out_f.shape == (2, 3, 14, 12)
    torch.testing.assert_close(out_f, out_p, rtol=0, atol=1e-12)
    g = torch.randn_like(out_f)
    grads_f = torch.autograd.grad(out_f, (x, fused.weight, fused.bias), g)
    grads_p = torch.autograd.grad(out_p, (x, plain[1].weight, plain[1].bias), g)
    for a, b in zip(grads_f, grads_p):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-10)


def test_flops_are_the_transposed_conv_products():
    layer = NearestUpConv2d(4, 6, 3)
    x = torch.randn(2, 4, 5, 5)
    (counted,) = forward_layers(nn.Sequential(layer), x)
    assert counted.flops == 2 * (2 * 4 * 5 * 5) * 6 * 4 * 4  # input elements x C_out x 4 x 4 taps
    with FlopCounterMode(display=False) as counter:
        layer(x)
    assert counter.get_total_flops() == counted.flops  # the kernel's sums add no products


def test_runs_saved_with_an_upsample_layer_load():
    """Before NearestUpConv2d, a block was (nn.Upsample, nn.Conv2d, ...): the conv's names are unchanged."""
    net = {"arch": "conv", "channels": [16, 8], "base": 4, "up": [2, 2], "kernel": 3, "upsample": "nearest",
           "norm": "batch", "output": "tanh"}
    G = build_generator(small_config(data={"name": "mnist"}, model={"latent_dim": 6, "g": net}).model,
                        DataInfo(kind="image", shape=(3, 16, 16)))
    assert isinstance(G.blocks[0][0], nn.Identity) and isinstance(G.blocks[0][1], NearestUpConv2d)
    old = nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(16, 8, 3, padding=1))
    keys = {k for k in G.state_dict() if k.startswith("blocks.0.")}
    assert {"blocks.0." + k for k in old.state_dict()} <= keys
    G.load_state_dict(G.state_dict())  # no buffer of the taps is saved
    assert not any("up_taps" in k for k in G.state_dict())


def test_a_self_conditioned_nearest_upsampling_generator_exports_to_onnx(tmp_path):
    """ONNX gets the two layers as written (a conv kernel of known shape) and the cluster drawn from z as a count
    (no searchsorted): onnxruntime computes what the model computes."""
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from ganforge.models.conditioning import ClusterConditioned

    net = {"arch": "conv", "channels": [16, 8], "base": 4, "up": [2, 2], "kernel": 3, "upsample": "nearest",
           "norm": "batch", "output": "tanh"}
    cfg = small_config(data={"name": "mnist"}, model={"latent_dim": 6, "g": net, "conditioning": "projection",
                                                      "g_cbn": True})
    torch.manual_seed(0)
    G = ClusterConditioned(build_generator(cfg.model, DataInfo(kind="image", shape=(3, 16, 16), num_classes=5)),
                           clusters=5, latent_dist="normal")
    G.set_clusters(torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0]))
    G.eval()
    z = torch.randn(9, 6)
    with torch.no_grad():
        want = G(z)
    cdf = torch.cumsum(G.prior.double(), 0)
    u = torch.distributions.Normal(0, 1).cdf(z[:, 0].double())
    assert torch.equal(G.clusters_of(z), torch.searchsorted(cdf, u, right=True).clamp(max=4))
    path = tmp_path / "g.onnx"
    torch.onnx.export(G, (z,), str(path), input_names=["z"], output_names=["x"], dynamic_axes={"z": {0: "b"}},
                      dynamo=False)
    (got,) = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"z": z.numpy()})
    torch.testing.assert_close(torch.from_numpy(got), want, rtol=0, atol=1e-5)
