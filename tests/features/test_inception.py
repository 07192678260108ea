"""The FID Inception-v3: layout of the state dict, loading from a file with one-line errors, inputs.

The real weights file is not available here; a random state dict with the same keys and shapes
(scaled so activations stay finite) stands in for it.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ganforge.errors import GanforgeError
from ganforge.features import EXTRACTORS, file_sha256
from ganforge.features.inception import (
    REFERENCE_SHA256,
    FIDInceptionV3,
    InceptionExtractor,
    _avg_pool,
    load_fid_inception,
)

# Hand count of the parameters (conv weights; BN weight + bias, 2 per channel; fc), cin -> cout, kernel:
#   stem  3*32*9 + 32*32*9 + 32*64*9 + 64*80 + 80*192*9 = 171,872 conv, BN channels 400
#   InceptionA(cin, pf): conv cin*(176 + pf) + 48*64*25 + 64*96*9 + 96*96*9 = cin*(176+pf) + 215,040,
#                        BN channels 432 + pf: 5b (192, 32) 254,976 / 464, 5c (256, 64) 276,480 / 496,
#                        5d (288, 64) 284,160 / 496
#   InceptionB(288): 288*384*9 + 288*64 + 64*96*9 + 96*96*9 = 1,152,000 conv, BN 640
#   InceptionC(768, c7): 2*768*192 + 2*768*c7 + 4*7*c7^2 + 2*7*192*c7 = 294,912 + 4,224 c7 + 28 c7^2,
#                        BN 768 + 6 c7: c7=128 1,294,336 / 1,536; c7=160 1,687,552 / 1,728 (twice);
#                        c7=192 2,138,112 / 1,920
#   InceptionD(768): 768*192*2 + 192*320*9 + 2*192*192*7 + 192*192*9 = 1,695,744 conv, BN 1,280
#   InceptionE(cin): cin*(320+384+448+192) + 4*384*384*3 + 448*384*9 = 1344 cin + 3,317,760, BN 3,264:
#                    7b (1280) 5,038,080, 7c (2048) 6,070,272
#   conv total 21,751,136; BN channels 17,216 -> 34,432 BN parameters; fc 2048*1008 + 1008 = 2,065,392
#   parameters: 21,751,136 + 34,432 + 2,065,392 = 23,850,960 (= torchvision's 27,161,264 with aux
#   logits, less the aux head's 3,326,696, plus 8 more fc outputs: 8*2048 + 8 = 16,392).
#   State-dict floats add running_mean + running_var (34,432): 23,885,392.
N_PARAMETERS = 23_850_960
N_STATE_FLOATS = 23_885_392  # parameters + BN running stats (num_batches_tracked left out)
N_BASIC_CONV = 5 + 3 * 7 + 4 + 4 * 10 + 6 + 2 * 9  # 94 conv+BN units, 6 state-dict entries each
N_STATE_TENSORS = 6 * N_BASIC_CONV + 2  # + fc.weight, fc.bias = 566


def _random_state(seed: int = 0) -> dict[str, torch.Tensor]:
    """Same keys and shapes as the FID weights; He-scaled convs so 94 layers stay finite and non-degenerate."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for k, v in FIDInceptionV3().state_dict().items():
        if k.endswith("num_batches_tracked"):
            t = torch.zeros_like(v)
        elif k.endswith("conv.weight"):
            t = torch.randn(v.shape, generator=g) * (2.0 / v[0].numel()) ** 0.5
        elif k.endswith("bn.weight"):
            t = 1.0 + 0.1 * torch.randn(v.shape, generator=g)
        elif k.endswith("running_var"):
            t = 0.5 + torch.rand(v.shape, generator=g)
        elif k == "fc.weight":
            t = 0.05 * torch.randn(v.shape, generator=g)
        else:  # bn.bias, running_mean, fc.bias
            t = 0.1 * torch.randn(v.shape, generator=g)
        out[k] = t
    return out


def _one_line_error(path, **kw) -> str:
    with pytest.raises(GanforgeError) as info:
        load_fid_inception(path, **kw)
    msg = str(info.value)
    assert "\n" not in msg and msg
    return msg


@pytest.fixture(scope="module")
def state() -> dict[str, torch.Tensor]:
    return _random_state()


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory, state):
    path = tmp_path_factory.mktemp("inception") / "random_inception.pth"
    torch.save(state, path)
    return path


@pytest.fixture(scope="module")
def ext(weights_file) -> InceptionExtractor:
    return load_fid_inception(weights_file, check_sha256=False)


def test_state_dict_layout():
    net = FIDInceptionV3()
    sd = net.state_dict()
    assert len(sd) == N_STATE_TENSORS == 566
    expected_shapes = {
        "Conv2d_1a_3x3.conv.weight": (32, 3, 3, 3),
        "Conv2d_1a_3x3.bn.running_var": (32,),
        "Conv2d_4a_3x3.conv.weight": (192, 80, 3, 3),
        "Mixed_5b.branch_pool.conv.weight": (32, 192, 1, 1),
        "Mixed_5d.branch5x5_2.conv.weight": (64, 48, 5, 5),
        "Mixed_6a.branch3x3.conv.weight": (384, 288, 3, 3),
        "Mixed_6e.branch7x7_1.conv.weight": (192, 768, 1, 1),
        "Mixed_6b.branch7x7dbl_5.conv.weight": (192, 128, 1, 7),
        "Mixed_7a.branch7x7x3_4.conv.weight": (192, 192, 3, 3),
        "Mixed_7c.branch3x3dbl_3b.conv.weight": (384, 384, 3, 1),
        "Mixed_7c.branch_pool.bn.bias": (192,),
        "fc.weight": (1008, 2048),
        "fc.bias": (1008,),
    }
    for key, shape in expected_shapes.items():
        assert tuple(sd[key].shape) == shape, key
    assert not any("AuxLogits" in k for k in sd)
    assert not any(k.endswith("conv.bias") for k in sd)  # BN supplies the bias
    assert sum(p.numel() for p in net.parameters()) == N_PARAMETERS
    assert sum(v.numel() for k, v in sd.items() if not k.endswith("num_batches_tracked")) == N_STATE_FLOATS
    assert all(m.eps == 0.001 for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d))
    # the FID-specific pooling: max pool only in the last E block, padding not counted in the average
    assert net.Mixed_7c.max_pool and not net.Mixed_7b.max_pool
    assert torch.equal(_avg_pool(torch.ones(1, 1, 4, 4)), torch.ones(1, 1, 4, 4))


def test_load_and_run_matches_direct_network(ext, weights_file, state):
    assert ext.name == "inception" and ext.sha256 == file_sha256(weights_file) and ext.batch_size == 50
    torch.manual_seed(0)
    rgb = torch.randint(0, 256, (2, 3, 64, 64), dtype=torch.uint8)
    feats, probs = ext(rgb)
    assert feats.shape == (2, 2048) and probs.shape == (2, 1008)
    assert feats.dtype == np.float64 and np.isfinite(feats).all() and np.isfinite(probs).all()
    assert np.allclose(probs.sum(1), 1.0) and (probs >= 0).all()
    assert not np.allclose(feats[0], feats[1])  # the random weights are not degenerate

    net = FIDInceptionV3()
    net.load_state_dict(state)
    with torch.no_grad():
        f, logits = net.eval()(rgb)
    np.testing.assert_allclose(feats, f.double().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(probs, torch.softmax(logits.double(), 1).numpy(), rtol=1e-5, atol=1e-9)
    # IS logits as the TF code and torch-fidelity compute them: pool features times fc's weights, no bias
    torch.testing.assert_close(logits, f @ net.fc.weight.T)
    assert not torch.allclose(logits, net.fc(f))

    ext.batch_size = 1  # batching does not change the result
    try:
        f1, p1 = ext(rgb)
    finally:
        ext.batch_size = 50
    np.testing.assert_allclose(f1, feats, rtol=1e-4, atol=1e-5)


def test_grey_images_are_repeated_to_three_channels(ext):
    torch.manual_seed(1)
    grey = torch.randint(0, 256, (2, 1, 28, 28), dtype=torch.uint8)
    feats, probs = ext(grey)
    assert feats.shape == (2, 2048) and probs.shape == (2, 1008)
    assert np.isfinite(feats).all() and np.allclose(probs.sum(1), 1.0)
    f3, p3 = ext(grey.repeat(1, 3, 1, 1))
    np.testing.assert_allclose(feats, f3, rtol=1e-5, atol=1e-6)


def test_constant_image_is_resize_invariant(ext):
    colour = torch.tensor([30, 120, 200], dtype=torch.uint8).view(1, 3, 1, 1)
    feats = [ext(colour.expand(1, 3, s, s).contiguous())[0] for s in (64, 128, 299)]
    for f in feats[1:]:
        np.testing.assert_allclose(f, feats[0], rtol=1e-4, atol=1e-5)


def test_bad_channel_count_rejected(ext):
    with pytest.raises(GanforgeError, match="channels"):
        ext(torch.zeros(1, 2, 8, 8, dtype=torch.uint8))


def test_sha256_checked_by_default(weights_file):
    msg = _one_line_error(weights_file)
    assert "sha256" in msg and REFERENCE_SHA256[:16] in msg and file_sha256(weights_file)[:16] in msg
    assert str(weights_file) in msg


@pytest.mark.parametrize("path", [None, "", "missing.pth"])
def test_no_or_missing_weights(path):
    msg = _one_line_error(path)
    assert "--inception-weights" in msg and "pt_inception-2015-12-05-6726825d.pth" in msg
    if path:
        assert "missing.pth" in msg


def test_garbage_file(tmp_path):
    path = tmp_path / "garbage.pth"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    assert "not a PyTorch weights file" in _one_line_error(path, check_sha256=False)
    torch.save(torch.zeros(3), tmp_path / "tensor.pth")
    assert "state dict" in _one_line_error(tmp_path / "tensor.pth", check_sha256=False)


def test_state_dict_mismatches_named(tmp_path, state):
    key = "Mixed_6e.branch7x7_1.conv.weight"
    bad = {k: v for k, v in state.items() if k != key}
    torch.save(bad, tmp_path / "missing.pth")
    msg = _one_line_error(tmp_path / "missing.pth", check_sha256=False)
    assert "missing" in msg and key in msg

    bad = dict(state, **{"AuxLogits.fc.weight": torch.zeros(1000, 768), "fc.bias": torch.zeros(1000)})
    torch.save(bad, tmp_path / "other.pth")
    msg = _one_line_error(tmp_path / "other.pth", check_sha256=False)
    assert "unexpected AuxLogits.fc.weight" in msg and "fc.bias (1000,) (want (1008,))" in msg

    torch.save({"fc.weight": state["fc.weight"]}, tmp_path / "few.pth")
    assert "more)" in _one_line_error(tmp_path / "few.pth", check_sha256=False)  # the list is cut short


def test_num_batches_tracked_optional(tmp_path, state):
    path = tmp_path / "old.pth"
    torch.save({k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}, path)
    loaded = load_fid_inception(path, check_sha256=False).net.state_dict()
    assert torch.equal(loaded["fc.weight"], state["fc.weight"])


def test_registered(weights_file):
    factory = EXTRACTORS.get("inception")
    assert callable(factory) and "inception" in EXTRACTORS.names()
    with pytest.raises(GanforgeError, match="--inception-weights"):
        factory(device="cpu")
    with pytest.raises(GanforgeError, match="sha256"):  # the weights reach the loader, which checks them
        factory(device="cpu", weights=weights_file)
