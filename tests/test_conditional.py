"""Conditional GANs: AC-GAN and projection as ingredients, per-class grids, labelled sampling,
class accuracy / intra-class FID, interpolation, the training GIF, export round trips."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from conftest import assert_resume_is_exact, small_config
from ganforge.cli import main
from ganforge.config import ModelConfig, NetConfig
from ganforge.data.batches import DataInfo
from ganforge.errors import GanforgeError
from ganforge.models import build_discriminator, build_generator
from ganforge.training.run import train

INFO = DataInfo("image", (1, 28, 28), num_classes=10)


def mcfg(conditioning, arch="mlp", g_label="multiply"):
    net = dict(arch=arch, hidden=[16], width=4)
    return ModelConfig(latent_dim=8, conditioning=conditioning, g_label=g_label,
                       g=NetConfig(output="tanh", **net), d=NetConfig(**net))


@pytest.mark.parametrize("arch", ["mlp", "dcgan"])
@pytest.mark.parametrize("g_label", ["multiply", "concat"])
def test_conditional_generator_depends_on_the_label(arch, g_label):
    G = build_generator(mcfg("acgan", arch, g_label), INFO).eval()
    z = torch.randn(1, 8).repeat(2, 1)
    x = G(z, torch.tensor([3, 7]))
    assert x.shape == (2, 1, 28, 28) and not torch.allclose(x[0], x[1])
    with pytest.raises(GanforgeError, match="give labels"):
        G(z)


@pytest.mark.parametrize("arch", ["mlp", "dcgan"])
def test_acgan_head_gives_raw_class_logits(arch):
    D = build_discriminator(mcfg("acgan", arch), INFO)
    logits, cls = D(torch.randn(5, 1, 28, 28), return_classes=True)
    assert logits.shape == (5,) and cls.shape == (5, 10)
    assert not torch.allclose(cls.softmax(1).sum(1), cls.sum(1))  # not probabilities: no softmax applied
    h = torch.randn(5, D.head.linear.in_features)
    assert torch.allclose(D.head(h, return_classes=True)[1], h @ D.head.aux.weight.T + D.head.aux.bias)


def test_projection_logit_by_hand():
    D = build_discriminator(mcfg("projection"), INFO)
    h, y = torch.randn(4, 16), torch.tensor([0, 3, 3, 9])
    by_hand = (h @ D.head.linear.weight.T).squeeze(1) + D.head.linear.bias + (D.head.embed.weight[y] * h).sum(1)
    assert torch.allclose(D.head(h, y), by_hand, atol=1e-6)
    with pytest.raises(GanforgeError, match="needs labels"):
        D.head(h)


@pytest.mark.parametrize("arch", ["mlp", "dcgan"])
def test_conditional_batch_norm_per_class_gain_and_bias(arch):
    from ganforge.models.conditioning import ConditionalBatchNorm

    m = mcfg("acgan", arch)
    m.g_cbn, m.g.norm = True, "batch"
    G = build_generator(m, INFO)
    cbns = [x for x in G.modules() if isinstance(x, ConditionalBatchNorm)]
    assert cbns and all(c.gain.weight.shape[0] == 10 for c in cbns)
    # by hand: normalise with the batch statistics, then gain[y] and bias[y]
    cbn = cbns[0]
    with torch.no_grad():
        cbn.gain.weight.normal_()
        cbn.bias.weight.normal_()
    spatial = (3, 3) if arch == "dcgan" else ()
    x, y = torch.randn(6, cbn.gain.weight.shape[1], *spatial), torch.tensor([0, 1, 2, 2, 5, 9])
    dims, extra = ((0, 2, 3), (None, None)) if spatial else ((0,), ())
    mean, var = x.mean(dims, keepdim=True), x.var(dims, unbiased=False, keepdim=True)
    gain, bias = cbn.gain.weight[y][(...,) + extra], cbn.bias.weight[y][(...,) + extra]
    by_hand = (x - mean) / torch.sqrt(var + 1e-5) * gain + bias
    assert torch.allclose(cbn(x, y), by_hand, atol=1e-5)
    # class weights (label morphing): a one-hot row gives exactly the class's output
    G.eval()
    z = torch.randn(3, 8)
    hard = torch.tensor([1, 4, 7])
    assert torch.allclose(G(z, hard), G(z, F.one_hot(hard, 10).float()), atol=1e-6)
    m.g.norm = "layer"
    with pytest.raises(GanforgeError, match="g_cbn"):
        build_generator(m, INFO)


def test_conditioning_needs_labels_and_no_packing():
    with pytest.raises(GanforgeError, match="labelled data set"):
        build_generator(mcfg("acgan"), DataInfo("points", (2,)))
    from ganforge.choices import load_config

    with pytest.raises(GanforgeError, match="cannot be combined"):
        load_config(None, ["model.conditioning=acgan", "model.d.pack=2"])


COND = {"data": {"name": "mnist", "batch_size": 20},
        "model": {"conditioning": "acgan", "g": {"hidden": [32], "output": "tanh"}, "d": {"hidden": [32]}},
        "log": {"n_samples": 30}}


def test_acgan_class_loss_is_cross_entropy_on_raw_logits(fake_mnist):
    from ganforge.build import build_experiment
    from ganforge.training.trainer import Trainer

    cfg = small_config(**COND)
    trainer = Trainer(build_experiment(cfg))
    torch.manual_seed(0)
    real, y = trainer.data.next()
    _, cls = trainer.D(real, return_classes=True)
    # what a correct AC-GAN minimises for real data: -log softmax(cls)[y]
    by_hand = -(cls.log_softmax(1)[torch.arange(len(y)), y]).mean()
    assert F.cross_entropy(cls, y).item() == pytest.approx(by_hand.item(), rel=1e-6)
    run_dir, trainer, _ = train(cfg, run_dir="r")
    rec = [json.loads(line) for line in Path("r/metrics.jsonl").read_text().splitlines()]
    assert all("d_class_loss" in r and r["d_class_loss"] > 0 for r in rec)


@pytest.mark.parametrize("loss", ["minimax", "non_saturating", "max_likelihood", "wasserstein", "hinge",
                                  "least_squares"])
@pytest.mark.parametrize("conditioning", ["acgan", "projection"])
def test_every_loss_trains_conditionally(fake_mnist, loss, conditioning):
    from ganforge.build import build_experiment
    from ganforge.training.trainer import Trainer

    model = dict(COND["model"], conditioning=conditioning)
    extra = {"gp_weight": 10.0} if loss == "wasserstein" else {}
    trainer = Trainer(build_experiment(small_config(**dict(COND, model=model, loss={"name": loss, **extra},
                                                           train={"steps": 3}))))
    before = [p.detach().clone() for p in trainer.G.parameters()]
    for _ in range(3):
        trainer.train_step()
    rec = trainer.flush_stats()
    assert all(np.isfinite(v) for k, v in rec.items() if isinstance(v, float))
    assert any(not torch.equal(a, b) for a, b in zip(before, trainer.G.parameters()))  # G learns
    assert ("d_class_loss" in rec) == (conditioning == "acgan")


@pytest.mark.parametrize("aux_fake_d", [False, True])
def test_acgan_class_loss_on_real_only_or_also_on_fakes(fake_mnist, aux_fake_d):
    from ganforge.build import build_experiment
    from ganforge.training.trainer import Trainer

    cfg = small_config(**dict(COND, loss={"aux_fake_d": aux_fake_d}))
    trainer = Trainer(build_experiment(cfg))
    state = trainer.data.state_dict()
    real, y = trainer.data.next()
    with torch.no_grad():
        real_ce = F.cross_entropy(trainer.D(real, return_classes=True)[1], y).item()
    trainer.data.load_state_dict(state)  # the step sees the same real batch
    trainer.train_step()
    logged = trainer.flush_stats()["d_class_loss"]
    if aux_fake_d:
        assert logged > real_ce + 0.5  # + cross-entropy of the fakes (about log 10 for an untrained D)
    else:
        assert logged == pytest.approx(real_ce, rel=1e-5)


def test_per_class_grid_rows_differ_only_by_label(fake_mnist):
    train(small_config(**COND), run_dir="r")
    grid = np.asarray(Image.open("r/samples/step_000020.png"))
    # 10 rows (classes) x 3 columns of 28 px, padding 2, scale 2
    assert grid.shape == (2 * (10 * 30 + 2), 2 * (3 * 30 + 2))


def test_sample_labels_npz_and_accuracy_eval(fake_mnist, monkeypatch, tmp_path):
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "stats"))
    train(small_config(**COND), run_dir="r")
    assert main(["sample", "r", "--n", "12", "--label", "3", "--out", "s.npz"]) == 0
    f = np.load("s.npz")
    assert f["images"].shape == (12, 1, 28, 28) and (f["labels"] == 3).all()
    assert main(["sample", "r", "--n", "20", "--out", "b.npz"]) == 0
    assert np.bincount(np.load("b.npz")["labels"]).tolist() == [2] * 10
    assert main(["sample", "r", "--label", "10", "--out", "x.png"]) == 2
    assert main(["eval", "b.npz", "--metrics", "accuracy,intra_fid", "--json", "e.json", "--no-progress"]) == 0
    e = json.loads(Path("e.json").read_text())
    assert 0 <= e["accuracy"] <= 1 and len(e["accuracy_per_class"]) == 10 and e["intra_fid"] > 0
    from ganforge.metrics import class_accuracy

    probs = np.eye(10)[[0, 1, 2, 2]]
    acc = class_accuracy(probs, np.array([0, 1, 2, 3]))
    assert acc["accuracy"] == 0.75 and acc["accuracy_per_class"][:4] == [1.0, 1.0, 1.0, 0.0]


def test_conditional_resume_is_exact(fake_mnist):
    assert_resume_is_exact(dict(COND, model=dict(COND["model"], conditioning="projection")))


@pytest.mark.parametrize("cbn", [False, True])
def test_interpolation_and_report(fake_mnist, cbn):
    model = dict(COND["model"], g_cbn=cbn, g=dict(COND["model"]["g"], norm="batch"))
    train(small_config(**dict(COND, model=model)), run_dir="r")
    assert main(["interpolate", "r", "--steps", "5", "--rows", "3", "--out", "i.png"]) == 0
    assert Image.open("i.png").size == (2 * (5 * 30 + 2), 2 * (3 * 30 + 2))
    assert main(["interpolate", "r", "--steps", "4", "--rows", "2", "--morph", "1", "7", "--out", "m.png"]) == 0
    assert main(["interpolate", "r", "--steps", "4", "--rows", "2", "--linear", "--label", "5", "--out", "l.png"]) == 0
    assert main(["report", "r"]) == 0
    gif = Image.open("r/training.gif")
    assert gif.n_frames == 3 and Path("r/losses.png").is_file()  # steps 0, 10, 20


def test_slerp_endpoints_and_norm():
    from ganforge.sampling import slerp

    a, b = torch.randn(4, 16), torch.randn(4, 16)
    t = torch.tensor([0.0, 0.5, 1.0]).view(3, 1, 1)
    out = slerp(a.unsqueeze(0), b.unsqueeze(0), t)
    assert torch.allclose(out[0], a, atol=1e-5) and torch.allclose(out[2], b, atol=1e-5)
    a_unit, b_unit = a / a.norm(dim=1, keepdim=True), b / b.norm(dim=1, keepdim=True)
    assert torch.allclose(slerp(a_unit, b_unit, torch.tensor([[0.3]])).norm(dim=1), torch.ones(4), atol=1e-5)


@pytest.mark.parametrize("conditioning", ["none", "acgan"])
def test_export_round_trips(fake_mnist, conditioning):
    model = dict(COND["model"], conditioning=conditioning)
    if conditioning == "acgan":  # with conditional batch norm in G too
        model.update(g_cbn=True, g=dict(COND["model"]["g"], norm="batch"))
    cfg = dict(COND, model=model, train={"steps": 5, "ema_kimg": 0.05})
    run_dir, _, _ = train(small_config(**cfg), run_dir="r")
    from ganforge.sampling import load_generator

    G, _ = load_generator(run_dir)  # EMA weights
    z = torch.randn(7, 4)
    labels = torch.arange(7) % 10
    with torch.no_grad():
        want = G(z, labels if conditioning != "none" else None)
    assert main(["export", "r", "--format", "torchscript", "--out", "g.pt"]) == 0
    ts = torch.jit.load("g.pt")
    got = ts(z, labels) if conditioning != "none" else ts(z)
    assert torch.allclose(got, want, atol=1e-6)
    meta = json.loads(Path("g.pt.json").read_text())
    assert meta["inputs"]["z"]["shape"] == ["batch", 4] and meta["output"]["range"] == [-1.0, 1.0]
    assert meta["ema_weights"] is True and ("labels" in meta["inputs"]) == (conditioning != "none")

    ort = pytest.importorskip("onnxruntime")
    assert main(["export", "r", "--format", "onnx", "--out", "g.onnx"]) == 0
    sess = ort.InferenceSession("g.onnx", providers=["CPUExecutionProvider"])
    feeds = {"z": z.numpy()}
    if conditioning != "none":
        feeds["labels"] = labels.numpy()
    (out,) = sess.run(None, feeds)
    assert np.allclose(out, want.numpy(), atol=1e-5)
    assert json.loads(Path("g.onnx.json").read_text())["file"] == "g.onnx"  # beside g.pt.json, not over it
    assert json.loads(Path("g.pt.json").read_text())["file"] == "g.pt"
