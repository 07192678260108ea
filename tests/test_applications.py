"""Anomaly detection (f-AnoGAN), inpainting and the data options they use, on a tiny GAN trained
on the fake MNIST of the fixtures (bright squares whose row band is the label)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch

from ganforge.applications.anomaly import auroc, build_encoder, load_encoder, residuals, score_array
from ganforge.applications.common import load_models
from ganforge.applications.inpaint import inpaint_tensor, masked_error, parse_mask
from ganforge.cli import main
from ganforge.errors import GanforgeError

TINY = ["data.name=mnist", "data.batch_size=32", "model.latent_dim=16", "model.g.arch=dcgan", "model.d.arch=dcgan",
        "model.g.width=8", "model.d.width=8", "model.g.norm=batch", "model.d.activation=leaky_relu", "loss.name=hinge",
        "model.d.spectral_norm=true", "optim.g_lr=0.001", "optim.d_lr=0.002",
        "log.progress=false", "log.tensorboard=false", "log.sample_every=0", "eval.metrics=[\"fid\"]"]


@pytest.fixture
def tiny_run(fake_mnist, tmp_path):
    """A DCGAN trained for 300 steps on the fake MNIST without classes 8 and 9."""
    run = tmp_path / "tiny"
    assert main(["train", *TINY, "train.steps=300", "data.exclude_classes=[8, 9]", "--run-dir", str(run)]) == 0
    return run


def test_exclude_classes_leaves_the_classes_out(fake_mnist):
    from ganforge.choices import load_config
    from ganforge.data import build_data

    cfg = load_config(None, ["data.exclude_classes=[0, 3]", "data.batch_size=8"])
    data = build_data(cfg.data, 0)
    assert not torch.isin(data.labels, torch.tensor([0, 3])).any()
    assert set(data.labels.tolist()) == set(range(10)) - {0, 3}
    for bad, words in ((["data.exclude_classes=[10]"], "0..9"), (["data.exclude_classes=[0,1,2,3,4,5,6,7,8]"], "two classes"),
                       (["data.name=ring8", "data.exclude_classes=[1]"], "mnist and fashion_mnist")):
        with pytest.raises(GanforgeError, match=words):
            load_config(None, bad)


def test_auroc_against_pair_counting():
    rng = np.random.default_rng(0)
    scores = np.round(rng.normal(size=300), 1)  # with ties
    positive = rng.random(300) < 0.3
    pos, neg = scores[positive], scores[~positive]
    pairs = (pos[:, None] > neg[None]).mean() + 0.5 * (pos[:, None] == neg[None]).mean()
    assert auroc(scores, positive) == pytest.approx(pairs, abs=1e-12)
    assert auroc([1, 2, 3, 4], [False, False, True, True]) == 1.0
    assert auroc([1, 2, 3, 4], [True, True, False, False]) == 0.0
    with pytest.raises(GanforgeError, match="both"):
        auroc([1, 2], [True, True])


def test_encoder_has_the_latent_shape_and_residuals_are_the_izi_f_loss(tiny_run):
    G, D, cfg, _ = load_models(tiny_run)
    E = build_encoder(cfg)
    x = torch.rand(5, 1, 28, 28) * 2 - 1
    assert E(x).shape == (5, 16)
    r = residuals(G, D, E, x, kappa=0.5)
    recon = G(E(x))
    assert torch.allclose(r["image"], ((x - recon) ** 2).mean((1, 2, 3)), atol=1e-6)
    assert torch.allclose(r["score"], r["image"] + 0.5 * r["feature"], atol=1e-6)
    assert (r["feature"] > 0).all()


def test_anomaly_fit_lowers_the_loss_resumes_and_scores(tiny_run, capsys):
    assert main(["anomaly", "fit", str(tiny_run), "--steps", "60", "--no-progress"]) == 0
    log = [json.loads(line) for line in (tiny_run / "anomaly" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [50, 60]
    # resumable: a longer fit continues from step 60 (no second start from scratch)
    assert main(["anomaly", "fit", str(tiny_run), "--steps", "200", "--no-progress"]) == 0
    log = [json.loads(line) for line in (tiny_run / "anomaly" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [50, 60, 100, 150, 200]
    assert log[-1]["loss"] < 0.7 * log[0]["loss"], log  # the reconstruction error falls
    assert main(["anomaly", "fit", str(tiny_run), "--no-progress"]) == 0
    assert "already fitted (200 steps)" in capsys.readouterr().out
    # scoring the test split: classes 8 and 9 were left out of training, so they are the anomalies
    assert main(["anomaly", "score", str(tiny_run), "--images", "test", "--top", "4", "--json", "s.json"]) == 0
    out = capsys.readouterr().out
    summary = json.loads(open("s.json").read())
    assert summary["anomaly_classes"] == [8, 9] and 0 <= summary["auroc"] <= 1 and "AUROC" in out
    rows = list(csv.DictReader(open(tiny_run / "anomaly" / "scores.csv")))
    assert len(rows) == 64 and {"name", "score", "image_residual", "feature_residual", "label"} <= set(rows[0])
    from PIL import Image

    grid = Image.open(tiny_run / "anomaly" / "most_anomalous.png")
    assert grid.size == (3 * (4 * 30 + 2), 3 * (3 * 30 + 2))  # 3 rows (input, reconstruction, residual) x 4


def test_obvious_anomalies_score_an_auroc_near_one(tiny_run, fake_mnist):
    """Inverted images (white background) are anomalies anyone sees: f-AnoGAN ranks them above
    the normal test images."""
    assert main(["anomaly", "fit", str(tiny_run), "--steps", "150", "--no-progress"]) == 0
    from ganforge.data import load_idx_set

    test, labels = load_idx_set("mnist", "test")
    normal = test[labels < 8].numpy()
    anomalous = 255 - normal[:20]
    G, D, cfg, _ = load_models(tiny_run)
    E, _ = load_encoder(tiny_run, cfg)
    s = score_array(G, D, E, np.concatenate([normal, anomalous]))
    positive = np.r_[np.zeros(len(normal), bool), np.ones(len(anomalous), bool)]
    assert auroc(s["score"], positive) > 0.99


def test_anomaly_errors_are_one_line(tiny_run, capsys, tmp_path):
    assert main(["anomaly", "score", str(tiny_run), "--images", "test"]) == 2
    assert "anomaly fit" in capsys.readouterr().err  # no encoder yet
    assert main(["anomaly", "fit", str(tiny_run), "--steps", "2", "--no-progress"]) == 0
    for images, words in (("nowhere.png", "not found"), (str(tmp_path / "x.txt"), "not an image")):
        (tmp_path / "x.txt").write_text("hello")
        assert main(["anomaly", "score", str(tiny_run), "--images", images]) == 2
        assert words in capsys.readouterr().err
    np.savez(tmp_path / "bad.npz", images=np.zeros((3, 1, 20, 20), np.uint8))
    assert main(["anomaly", "score", str(tiny_run), "--images", str(tmp_path / "bad.npz")]) == 2
    assert "20x20 px, the run's are 28x28" in capsys.readouterr().err
    np.savez(tmp_path / "ok.npz", images=np.zeros((3, 28, 28), np.uint8))
    assert main(["anomaly", "score", str(tiny_run), "--images", str(tmp_path / "ok.npz"), "--top", "0"]) == 0


def test_anomaly_needs_an_unconditional_image_run(fake_mnist, tmp_path, capsys):
    run = tmp_path / "cond"
    assert main(["train", *TINY, "train.steps=2", "model.conditioning=acgan", "--run-dir", str(run)]) == 0
    assert main(["anomaly", "fit", str(run), "--no-progress"]) == 2
    assert "unconditional generator" in capsys.readouterr().err


# ---------------------------------------------------------------------------- inpainting
def test_parse_mask():
    m = parse_mask("box:2,3,4,5", (1, 28, 28))
    assert m.shape == (1, 1, 28, 28) and m.sum() == 20 and m[0, 0, 3, 2] == 1 and m[0, 0, 8, 2] == 0
    assert parse_mask("half:left", (3, 32, 32))[0, 0, :, :16].all()
    for spec, words in (("box:1,2,3", "four whole numbers"), ("box:20,20,10,10", "inside"), ("half:middle", "half:left"),
                        ("nothing.png", "neither"), ("box:0,0,28,28", "whole image")):
        with pytest.raises(GanforgeError, match=words):
            parse_mask(spec, (1, 28, 28))


def test_mask_from_an_image_file(tmp_path):
    from PIL import Image

    arr = np.zeros((56, 56), np.uint8)
    arr[:28, :] = 255
    Image.fromarray(arr).save(tmp_path / "m.png")
    m = parse_mask(str(tmp_path / "m.png"), (1, 28, 28))
    assert m[0, 0, :14].all() and not m[0, 0, 14:].any()


def test_inpainting_reduces_the_masked_error_against_a_random_z(tiny_run, fake_mnist):
    from ganforge.data import load_idx_set

    G, D, cfg, _ = load_models(tiny_run)
    test, labels = load_idx_set("mnist", "test")
    mask = parse_mask("box:6,6,16,16", (1, 28, 28))
    before, after = [], []
    for i in range(4):
        x = test[i:i + 1].float() / 127.5 - 1
        r = inpaint_tensor(G, D, cfg, x, mask, steps=150, restarts=8, seed=i)
        assert r["completion"].shape == x.shape
        known = (1 - mask).bool().expand_as(x)
        assert torch.equal(r["completion"][known], x[known])  # the known pixels are kept
        assert r["error_after"] == pytest.approx(float(masked_error(r["completion"], x, mask)[0]))
        before.append(r["error_random"])
        after.append(r["error_after"])
    assert np.mean(after) < 0.6 * np.mean(before), (before, after)


def test_inpaint_cli_writes_the_side_by_side_picture(tiny_run, capsys, tmp_path):
    from PIL import Image

    Image.fromarray(np.full((40, 40), 200, np.uint8)).save(tmp_path / "digit.png")
    assert main(["inpaint", str(tiny_run), "--image", "test:0,1", str(tmp_path / "digit.png"), "--mask", "half:top",
                 "--steps", "5", "--restarts", "2", "--out", "in.png", "--json", "in.json"]) == 0
    out = capsys.readouterr().out
    assert out.count("masked-region error") == 3 and "wrote in.png" in out
    assert Image.open("in.png").size == (4 * (3 * 30 + 2), 4 * (3 * 30 + 2))  # 3 rows of masked | completion | original
    assert [r["image"] for r in json.loads(open("in.json").read())["images"]] == ["test:0", "test:1", "digit.png"]
    assert main(["inpaint", str(tiny_run), "--image", "test:999", "--mask", "half:top"]) == 2
    assert "outside 0..63" in capsys.readouterr().err


def test_anomaly_on_an_image_folder_run(tmp_path, capsys):
    """Image folders work end to end: train on a folder, fit, score another folder of files."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for split, n in (("train", 48), ("new", 6)):
        d = tmp_path / split
        d.mkdir()
        for i in range(n):
            arr = np.zeros((40, 40, 3), np.uint8)
            arr[:, :, i % 3] = 60 + int(rng.integers(0, 150))
            Image.fromarray(arr).save(d / f"{i:02d}.png")
    run = tmp_path / "folder_run"
    assert main(["train", "data.name=folder", f"data.path={tmp_path / 'train'}", "data.size=32", "data.batch_size=16",
                 "model.latent_dim=8", "model.g.arch=dcgan", "model.d.arch=dcgan", "model.g.width=8", "model.d.width=8",
                 "model.g.norm=batch", "train.steps=6", "log.progress=false", "log.tensorboard=false",
                 "log.sample_every=0", "--run-dir", str(run)]) == 0
    assert main(["anomaly", "fit", str(run), "--steps", "4", "--no-progress"]) == 0
    (tmp_path / "new" / "02b_broken.png").write_bytes(b"not a png")  # skipped; the names stay aligned
    assert main(["anomaly", "score", str(run), "--images", str(tmp_path / "new"), "--top", "3"]) == 0
    assert "skipped 1 unreadable image" in capsys.readouterr().err
    rows = list(csv.DictReader(open(run / "anomaly" / "scores.csv")))
    assert [r["name"] for r in rows] == [f"{i:02d}.png" for i in range(6)] and "label" not in rows[0]
    assert (run / "anomaly" / "most_anomalous.png").is_file()
    assert main(["anomaly", "score", str(run), "--images", "test"]) == 2
    assert "no held-out split" in capsys.readouterr().err


def test_ctrl_c_during_anomaly_fit_saves_and_fit_resumes(tiny_run, fake_mnist):
    import os
    import signal
    import subprocess
    import sys
    import time

    log = tiny_run / "anomaly" / "metrics.jsonl"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    child = ("import hashlib, sys; from pathlib import Path; from ganforge.data import mnist; from ganforge.cli import main\n"
             f"for f in Path({str(fake_mnist / 'mnist')!r}).iterdir():\n"
             "    mnist.MNIST.md5[f.name] = hashlib.md5(f.read_bytes()).hexdigest()  # the fixture's files\n"
             f"sys.exit(main(['anomaly', 'fit', {str(tiny_run)!r}, '--steps', '100000', '--no-progress']))\n")
    proc = subprocess.Popen([sys.executable, "-c", child], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:  # the fit must have logged before Ctrl-C: on a loaded machine start-up alone can take a minute
        deadline = time.time() + 180
        while not (log.exists() and log.read_text().strip()) and time.time() < deadline:
            time.sleep(0.2)
        assert log.exists() and log.read_text().strip(), "the fit logged nothing in 180 s"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:  # never leave a 100,000-step fit running behind a failed test
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, (out, err)
    assert "continue with: ganforge anomaly fit" in err
    from ganforge.training.checkpoint import load_checkpoint

    saved = load_checkpoint(tiny_run / "anomaly" / "encoder.pt")
    assert 50 <= saved["step"] < 100000
    assert main(["anomaly", "fit", str(tiny_run), "--steps", str(saved["step"] + 10), "--no-progress"]) == 0
    assert load_checkpoint(tiny_run / "anomaly" / "encoder.pt")["step"] == saved["step"] + 10


def test_bad_arguments_of_the_application_commands(capsys):
    for argv, words in ((["anomaly", "fit", "nowhere", "--lr", "0"], "--lr: must be > 0"),
                        (["anomaly", "fit", "nowhere", "--kappa", "-1"], "--kappa: must be >= 0"),
                        (["anomaly", "score", "nowhere"], "needs --images"),
                        (["anomaly", "fit", "nowhere"], "checkpoint nowhere not found"),
                        (["inpaint", "nowhere", "--image", "a.png", "--mask", "half:top", "--prior-weight", "nan"],
                         "--prior-weight: must be >= 0"),
                        (["inpaint", "nowhere", "--image", "a.png"], "--mask"),
                        (["anomaly", "score", "nowhere", "--images", "test", "--out", "s.txt"], "must end in .csv")):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert words in err and err.count("\n") == 1, (argv, err)
