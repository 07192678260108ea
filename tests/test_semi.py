"""The semi-supervised GAN (model.conditioning=semi): the labelled subset, D's K-class head, the
losses against hand computations, feature matching, the evaluation of D as a classifier, and D
beating the same network trained on the labelled images alone."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from ganforge.applications.semi import classifier_test_accuracy, train_supervised
from ganforge.build import build_experiment
from ganforge.cli import main
from ganforge.choices import load_config
from ganforge.errors import GanforgeError
from ganforge.objectives.gan_loss import feature_matching, feature_module, head_input
from ganforge.training.trainer import Trainer

SEMI = ["model.conditioning=semi", "data.labels_per_class=2", "loss.feature_matching=true", "data.batch_size=16",
        "model.latent_dim=8", "model.d.hidden=[32]", "model.g.hidden=[32]", "log.progress=false",
        "log.tensorboard=false", "log.sample_every=0"]


def test_labelled_subset_is_seeded_and_the_rest_unlabelled(fake_mnist):
    cfg = load_config(None, SEMI)
    exp = build_experiment(cfg, progress=False)
    x, y = exp.data.next()
    assert x.shape == (32, 1, 28, 28)  # 16 unlabelled + 16 from the labelled pool
    assert (y[:16] == -1).all() and (y[16:] >= 0).all()
    pool = exp.data.pool_y[:exp.data.pool_size]
    assert sorted(pool.tolist()) == sorted(list(range(10)) * 2)  # 2 per class
    again = build_experiment(load_config(None, SEMI), progress=False)
    assert torch.equal(again.data.pool_x, exp.data.pool_x)  # a fixed choice for a seed
    other = build_experiment(load_config(None, SEMI + ["seed=1"]), progress=False)
    assert not torch.equal(other.data.pool_x, exp.data.pool_x)
    # the position in both streams is part of the state (exact resume)
    state = exp.data.state_dict()
    a = [exp.data.next() for _ in range(3)]
    exp.data.load_state_dict(state)
    b = [exp.data.next() for _ in range(3)]
    assert all(torch.equal(p[0], q[0]) and torch.equal(p[1], q[1]) for p, q in zip(a, b))


def test_semi_config_errors():
    for bad, words in ((["data.labels_per_class=5"], "model.conditioning=semi"),
                       (["model.conditioning=semi", "model.g_cbn=true", "model.g.norm=batch"], "takes none"),
                       (["model.d.spectral_norm=true", "model.d.weight_norm=true"], "exclude each other"),
                       (["model.d.arch=dcgan", "model.d.noise=0.5"], "mlp discriminator"),
                       (["loss.feature_distance=cosine"], "squared, abs"),
                       (["model.d.weight_norm_scale=fixed"], "model.d.weight_norm=true"),
                       (["model.g.weight_norm=true", "model.g.weight_norm_scale=fixed"], "generator keeps"),
                       (["model.d.weight_norm=true", "model.d.weight_norm_scale=frozen"], "not one of trained, fixed"),
                       (["loss.semi_real=unlabelled"], "model.conditioning=semi"),
                       (["loss.feature_real=current"], "loss.feature_matching=true"),
                       (["loss.feature_matching=true", "loss.feature_layer=last"], "not one of head, clean"),
                       (["loss.feature_matching=true", "loss.feature_real=later"], "not one of d_step, current, fresh")):
        with pytest.raises(GanforgeError, match=words):
            load_config(None, bad)
    with pytest.raises(GanforgeError, match="labelled data set"):
        build_experiment(load_config(None, ["data.name=ring8", "model.conditioning=semi"]), progress=False)


def test_semi_head_and_losses_by_hand(fake_mnist):
    cfg = load_config(None, SEMI + ["model.d.noise=0.0"])
    exp = build_experiment(cfg, progress=False)
    D, loss = exp.D, exp.loss
    real, y = exp.data.next()
    fake = exp.G(torch.randn(16, 8)).detach()
    logit, cls = D(real, None, return_classes=True)
    assert cls.shape == (32, 10)
    assert torch.allclose(logit, torch.logsumexp(cls, 1), atol=1e-6)  # D(x) = Z / (Z + 1)
    total, stats = loss.discriminator(D, real, y, fake, None)
    _, fake_cls = D(fake, None, return_classes=True)
    d_loss = F.softplus(-torch.logsumexp(cls, 1)).mean() + F.softplus(torch.logsumexp(fake_cls, 1)).mean()
    labelled = y >= 0
    ce = F.cross_entropy(cls[labelled], y[labelled])
    assert stats[0].item() == pytest.approx(d_loss.item(), rel=1e-5)
    assert stats[4].item() == pytest.approx(ce.item(), rel=1e-5)
    assert total.item() == pytest.approx(d_loss.item() + cfg.loss.aux_weight * ce.item(), rel=1e-5)
    # feature matching: G's loss compares the mean features of this real batch and of the fakes
    with head_input(D) as seen:
        D(real)
        D(fake)
    g_total, g_loss = loss.generator(D, fake, None)
    expected = (seen[1].mean(0) - seen[0].mean(0)).square().mean()
    assert g_loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert feature_matching(seen[1], seen[0].mean(0), "abs").item() == pytest.approx(
        (seen[1].mean(0) - seen[0].mean(0)).abs().mean().item(), rel=1e-6)


def test_semi_real_unlabelled_and_the_current_feature_target_by_hand(fake_mnist):
    """loss.semi_real=unlabelled: D's GAN term and the feature target use the unlabelled rows alone;
    loss.feature_real=current: the G step's target is the mean feature of those rows under D as it
    is after its step (not before it, as with d_step)."""
    cfg = load_config(None, SEMI + ["model.d.noise=0.0", "loss.semi_real=unlabelled", "loss.feature_real=current"])
    exp = build_experiment(cfg, progress=False)
    D, loss = exp.D, exp.loss
    real, y = exp.data.next()
    fake = exp.G(torch.randn(16, 8)).detach()
    unl = y == -1
    assert int(unl.sum()) == 16
    total, stats = loss.discriminator(D, real, y, fake, None)
    _, cls = D(real, None, return_classes=True)
    _, fake_cls = D(fake, None, return_classes=True)
    d_loss = F.softplus(-torch.logsumexp(cls[unl], 1)).mean() + F.softplus(torch.logsumexp(fake_cls, 1)).mean()
    assert stats[0].item() == pytest.approx(d_loss.item(), rel=1e-5)
    with head_input(D) as seen:
        D(real[unl])
    assert torch.allclose(loss.real_features, seen[0].mean(0), atol=1e-6)  # before D's step: unlabelled rows
    before = seen[0].mean(0)
    opt = torch.optim.SGD(D.parameters(), lr=0.5)
    opt.zero_grad()
    total.backward()
    opt.step()  # D moves
    with head_input(D) as seen:
        D(real[unl])
        D(fake)
    after = seen[0].mean(0)
    assert not torch.allclose(before, after, atol=1e-4)
    _, g_loss = loss.generator(D, fake, None)
    assert torch.allclose(loss.real_features, after, atol=1e-6)
    assert g_loss.item() == pytest.approx((seen[1].mean(0) - after).square().mean().item(), rel=1e-5)


def test_fresh_feature_target_is_the_next_real_batch_under_d_after_its_step(fake_mnist, tmp_path):
    """loss.feature_real=fresh: before each G step the trainer draws the next real batch of the
    stream; G's target is the mean feature of its unlabelled rows under D after its step (their
    code's second permutation, trainx_unl2), not of the D step's batch; resuming gives the same
    weights as training straight through."""
    cfg = load_config(None, SEMI + ["model.d.noise=0.0", "loss.semi_real=unlabelled", "loss.feature_real=fresh",
                                    "train.steps=4"])
    exp = build_experiment(cfg, progress=False)
    stream = build_experiment(cfg, progress=False).data  # the same seeded stream, to read ahead
    trainer = Trainer(exp)
    trainer.train_step()
    d_batch, _ = stream.next()
    fresh, y = stream.next()
    unl = y == -1
    with torch.no_grad(), head_input(exp.D) as seen:
        exp.D(fresh[unl])
        exp.D(d_batch[unl])
    assert torch.allclose(exp.loss.real_features, seen[0].mean(0), atol=1e-6)
    assert not torch.allclose(exp.loss.real_features, seen[1].mean(0), atol=1e-4)  # not the D step's batch
    assert torch.equal(exp.data.next()[0], stream.next()[0])  # two batches a step, no more
    straight = tmp_path / "straight"
    assert main(["train", *SEMI, "loss.feature_real=fresh", "train.steps=6", "--run-dir", str(straight)]) == 0
    part = tmp_path / "part"
    assert main(["train", *SEMI, "loss.feature_real=fresh", "train.steps=3", "--run-dir", str(part)]) == 0
    assert main(["train", "--resume", str(part), "train.steps=6"]) == 0
    a = torch.load(straight / "checkpoints" / "last.pt", weights_only=False)
    b = torch.load(part / "checkpoints" / "last.pt", weights_only=False)
    for key in ("g", "d"):
        for name, value in a[key].items():
            assert torch.equal(value, b[key][name]), (key, name)


def test_clean_features_are_taken_before_the_last_noise_layer(fake_mnist):
    cfg = load_config(None, SEMI + ["model.d.noise=0.5", "model.d.input_noise=0.3", "loss.feature_layer=clean"])
    exp = build_experiment(cfg, progress=False)
    D = exp.D
    assert feature_module(D, "clean") is D.net[-1] and type(D.net[-1]).__name__ == "GaussianNoise"
    assert feature_module(D, "head") is D.head
    x = torch.rand(8, 1, 28, 28)
    torch.manual_seed(3)
    with head_input(D, "clean") as clean, head_input(D) as noisy:
        D(x)
    torch.manual_seed(3)
    by_hand = D.net[:-1](x.reshape(8, -1))  # the same noise draws on the input and the first layer
    assert torch.allclose(clean[0], by_hand, atol=1e-6)
    assert not torch.allclose(noisy[0], by_hand, atol=1e-3)  # the head sees the last noise added
    # a D without noise layers: clean features are what the head receives
    plain = build_experiment(load_config(None, SEMI + ["loss.feature_layer=clean"]), progress=False).D
    assert feature_module(plain, "clean") is plain.head
    # a short training run with all three keys runs and logs finite losses
    run = load_config(None, SEMI + ["model.d.noise=0.5", "loss.feature_layer=clean", "loss.feature_real=current",
                                    "loss.semi_real=unlabelled", "train.steps=4", "log.every=2"])
    trainer = Trainer(build_experiment(run, progress=False))
    for _ in range(4):
        trainer.train_step()
    record = trainer.flush_stats()
    assert all(torch.isfinite(torch.tensor(record[k])) for k in ("d_loss", "g_loss", "d_class_loss"))


def test_weight_norm_and_noise_layers_of_the_semi_discriminator(fake_mnist):
    cfg = load_config(None, SEMI + ["model.d.weight_norm=true", "model.d.noise=0.5", "model.d.input_noise=0.3"])
    D = build_experiment(cfg, progress=False).D
    names = [type(m).__name__ for m in D.net]
    assert names == ["GaussianNoise", "ParametrizedLinear", "ReLU", "GaussianNoise"]
    assert [m.std for m in D.net if type(m).__name__ == "GaussianNoise"] == [0.3, 0.5]
    assert D.head.classes.parametrizations.weight[0].__class__.__name__ == "_WeightNorm"
    x = torch.rand(4, 1, 28, 28)
    D.eval()
    assert torch.equal(D(x), D(x))  # the noise is off in eval mode
    D.train()
    assert not torch.equal(D(x), D(x))


def test_fixed_weight_norm_scale_keeps_hidden_weight_vectors_at_their_norm(fake_mnist):
    """model.d.weight_norm_scale=fixed: every hidden layer's weight rows have norm 1 (first layer)
    or sqrt(2) (later ones) before and after training steps, no scale parameter is trained outside
    the head, and the head keeps a trained weight-norm scale."""
    cfg = load_config(None, SEMI + ["model.d.hidden=[32,16]", "model.d.weight_norm=true",
                                    "model.d.weight_norm_scale=fixed", "train.steps=5"])
    exp = build_experiment(cfg, progress=False)
    D = exp.D
    linears = [m for m in D.net if isinstance(m, torch.nn.Linear)]
    head_scale = D.head.classes.parametrizations.weight.original0.detach().clone()
    Trainer(exp).run()
    for i, layer in enumerate(linears):
        norms = layer.weight.norm(dim=1)
        torch.testing.assert_close(norms, torch.full_like(norms, 1.0 if i == 0 else 2 ** 0.5))
    trained = [n for n, p in D.named_parameters() if p.requires_grad]
    assert [n for n in trained if "original0" in n] == ["head.classes.parametrizations.weight.original0"]
    assert not torch.equal(D.head.classes.parametrizations.weight.original0, head_scale)  # the head's scale learns
    assert len(trained) == 2 * len(linears) + 3  # each hidden layer: v and bias; the head: g, v and bias


def test_batch_shift_norm_learns_a_shift_and_no_scale(fake_mnist):
    """model.g.norm=batch_shift (their G's batch_norm(g=None)): each batch norm has a bias and no
    weight, normalises each feature to mean = bias and unit variance, the bias trains, and the
    distributed engine's synchronised batch norm computes the same in one process."""
    from ganforge.training.distributed import SyncBatchNorm

    cfg = load_config(None, SEMI + ["model.g.norm=batch_shift", "train.steps=3"])
    exp = build_experiment(cfg, progress=False)
    named = [(n, m) for n, m in exp.G.named_modules() if isinstance(m, torch.nn.BatchNorm1d)]
    assert len(named) == 1 and all(m.weight is None and m.bias is not None for _, m in named)
    state = exp.G.state_dict()
    assert all(f"{n}.weight" not in state and f"{n}.bias" in state for n, _ in named)
    bns = [m for _, m in named]
    bn = bns[0]
    bias = bn.bias.detach().clone()
    Trainer(exp).run()
    assert not torch.equal(bn.bias, bias)  # the shift learns
    with torch.no_grad():
        bn.bias.copy_(torch.linspace(-1, 1, bn.num_features))
        x = torch.randn(64, bn.num_features) * 3 + 2
        bn.train()
        y = bn(x)
        want = (x - x.mean(0)) / torch.sqrt(x.var(0, unbiased=False) + bn.eps) + bn.bias
        torch.testing.assert_close(y, want, rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(SyncBatchNorm(bn)(x), want, rtol=1e-4, atol=1e-4)
    with pytest.raises(GanforgeError, match="batch_shift"):
        load_config(None, SEMI + ["model.g.norm=batchshift"])


def test_semi_run_trains_resumes_and_eval_reports_d_accuracy(fake_mnist, tmp_path, capsys):
    run = tmp_path / "semi"
    assert main(["train", *SEMI, "train.steps=30", "log.every=10", "log.checkpoint_every=20", "--run-dir", str(run)]) == 0
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert "d_class_loss" in lines[-1]
    assert main(["eval", str(run), "--metrics", "fid", "--n", "64"]) == 0
    out = capsys.readouterr().out
    result = json.loads((run / "eval.json").read_text())
    assert result["d_test_n"] == 64 and 0 <= result["d_test_accuracy"] <= 1 and "d_test_accuracy" in out
    assert result["d_test_error"] == pytest.approx(1 - result["d_test_accuracy"])
    # the generator is unconditional: sampling takes no --label
    assert main(["sample", str(run), "--n", "4", "--out", "s.png"]) == 0
    assert main(["sample", str(run), "--label", "1"]) == 2


def test_the_weight_average_of_d_is_the_classifier_with_the_last_weights_beside_it(fake_mnist, tmp_path):
    from ganforge.evaluation.run import load_discriminator

    run = tmp_path / "avg"
    assert main(["train", *SEMI, "train.steps=20", "train.d_ema_kimg=0.16", "--run-dir", str(run)]) == 0
    state = torch.load(run / "checkpoints" / "last.pt", weights_only=False)
    cfg = load_config(None, SEMI + ["train.steps=20", "train.d_ema_kimg=0.16"])
    assert state["d_ema"].keys() == state["d"].keys()
    assert any(not torch.equal(state["d_ema"][k], state["d"][k]) for k in state["d"])
    assert main(["eval", str(run), "--metrics", "fid", "--n", "64"]) == 0
    result = json.loads((run / "eval.json").read_text())
    averaged = classifier_test_accuracy(load_discriminator(cfg, state, averaged=True), cfg, n=64)
    last = classifier_test_accuracy(load_discriminator(cfg, state), cfg, n=64)
    assert result["d_test_error"] == pytest.approx(averaged["d_test_error"])
    assert result["d_last_test_error"] == pytest.approx(last["d_test_error"])
    # with one update of beta from D's starting weights the average is exactly lerp(start, D, 1 - beta)
    exp = build_experiment(load_config(None, SEMI + ["train.steps=1", "train.d_ema_kimg=0.16"]), progress=False)
    start = {k: v.clone() for k, v in exp.D.state_dict().items()}
    trainer = Trainer(exp)
    trainer.run()
    beta = 0.5 ** (16 / 160)
    for k, v in exp.D.state_dict().items():
        if v.dtype.is_floating_point:
            torch.testing.assert_close(trainer.d_ema.model.state_dict()[k], beta * start[k] + (1 - beta) * v)


def test_moons_is_a_labelled_toy(tmp_path):
    cfg = load_config(None, SEMI + ["data.name=moons", "model.d.hidden=[16]", "data.labels_per_class=3", "train.steps=50"])
    exp = build_experiment(cfg, progress=False)
    assert exp.data.info.num_classes == 2
    x, y = exp.data.next()
    assert x.shape == (32, 2) and set(y[16:].tolist()) == {0, 1}
    Trainer(exp).run()
    r = classifier_test_accuracy(exp.D, cfg, n=500)
    assert r["d_test_n"] == 500 and 0 <= r["d_test_accuracy"] <= 1


def test_semi_supervised_d_beats_the_same_network_on_the_labels_alone(real_data_root, monkeypatch):
    """MNIST with 10 labels per class, 3,000 steps of smaller networks than the preset's: the GAN's
    D classifies the test images far better than the network trained on the 100 labelled images
    alone (measured with class-loss weight 1: 84% against 70%). On the synthetic tasks tried (two moons, bars, the fixtures'
    squares, two MNIST digits with one label each) the GAN did not win reliably, see the issue note."""
    monkeypatch.setenv("GANFORGE_DATA", str(real_data_root))
    from pathlib import Path

    preset = Path(__file__).resolve().parents[1] / "configs" / "semi_mnist.toml"
    cfg = load_config(preset, ["train.steps=3000", "loss.aux_weight=1.0", "model.d.hidden=[500, 250, 250]", "model.g.hidden=[250]",
                               "log.progress=false", "log.tensorboard=false"])
    exp = build_experiment(cfg, progress=False)
    Trainer(exp).run()
    semi = classifier_test_accuracy(exp.D, cfg, n=2000)["d_test_accuracy"]
    supervised = classifier_test_accuracy(train_supervised(cfg), cfg, n=2000)["d_test_accuracy"]
    assert semi > supervised + 0.08, (semi, supervised)
