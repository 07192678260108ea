"""Image folders end to end: a DCGAN learns a folder's colour statistics; runs on folders are
evaluated against the held-out split (pixel features, or the FID Inception-v3 from a weights file)."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import small_config
from ganforge.build import build_experiment
from ganforge.cli import main
from ganforge.evaluation.run import run_eval
from ganforge.training.trainer import Trainer

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def make_folder(root: Path, n: int = 48, side: int = 24) -> Path:
    """``n`` PNGs: an orange disc of random size and place on a dark blue background, plus noise."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:side, :side]
    for i in range(n):
        img = np.zeros((side, side, 3), np.float64)
        img[:] = (20, 40, 160)
        cy, cx, r = rng.uniform(8, side - 8, 2).tolist() + [rng.uniform(4, 8)]
        img[(yy - cy) ** 2 + (xx - cx) ** 2 <= r * r] = (240, 140, 20)
        img += rng.normal(0, 8, img.shape)
        sub = root / f"part{i % 3}"
        sub.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img.clip(0, 255).astype(np.uint8)).save(sub / f"img{i:03d}.png")
    return root


def folder_config(path: Path, **train):
    return small_config(
        data={"name": "folder", "path": str(path), "size": 16, "batch_size": 16, "val_fraction": 0.25},
        model={"latent_dim": 16, "g": {"arch": "dcgan", "width": 16, "norm": "batch", "activation": "relu",
                                       "output": "tanh"},
               "d": {"arch": "dcgan", "width": 16, "norm": "batch", "activation": "leaky_relu"}},
        optim={"g_lr": 1e-3, "d_lr": 1e-3}, train=train or {"steps": 20})


@torch.no_grad()
def mean_colour(G, latent_dim: int) -> np.ndarray:
    g = torch.Generator()
    g.manual_seed(5)
    G.eval()
    x = G(torch.randn(256, latent_dim, generator=g))
    G.train()
    return ((x + 1) * 127.5).mean(dim=(0, 2, 3)).numpy()


def test_dcgan_learns_the_colour_statistics_of_a_folder(tmp_path):
    from ganforge.data.folder import load_folder

    folder = make_folder(tmp_path / "shapes")
    target = load_folder(folder, 16, "train", 0.25).float().mean(dim=(0, 2, 3)).numpy()
    exp = build_experiment(folder_config(folder, steps=300))
    before = np.abs(mean_colour(exp.G, 16) - target).max()
    Trainer(exp).run()
    after = np.abs(mean_colour(exp.G, 16) - target).max()
    assert before > 40, before  # the untrained generator is grey-ish: far from orange on blue
    assert after < 20, (before, after, target)


def test_folder_run_evaluates_against_its_held_out_split(tmp_path, monkeypatch):
    folder = make_folder(tmp_path / "shapes")
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "cache"))
    overrides = [f"data.path={folder}", "data.size=16", "data.val_fraction=0.25", "data.batch_size=16", "model.g.width=8", "model.d.width=8",
                 "train.kimg=0", "train.steps=8", "log.every=4", "log.sample_every=4", "log.checkpoint_every=4",
                 "log.progress=false", "log.tensorboard=false", "eval.every=4", "eval.n=32",
                 "--run-dir", "runs/faces"]
    assert main(["train", str(CONFIGS / "dcgan_faces64.toml"), *overrides]) == 0
    run = Path("runs/faces")
    evals = [json.loads(line)["eval"] for line in open(run / "metrics.jsonl") if '"eval"' in line]
    assert [e["features"] for e in evals] == ["pixels16", "pixels16"]  # periodic eval during training
    assert (run / "checkpoints" / "best.pt").is_file()

    r = run_eval(str(run), "fid,kid,prdc", n=40, progress=False)
    assert r["data"] == "folder" and r["features"] == "pixels16" and r["reference"] == "val split"
    assert r["fid"] >= 0 and np.isfinite(r["kid_mean"]) and 0 <= r["precision"] <= 1
    assert json.loads((run / "eval.json").read_text())["fid"] == r["fid"]
    assert list((tmp_path / "cache").glob("folder-*_val_pixels16-*.npz"))  # reference stats cached
    # what the folder's own training images score against the same held-out split
    real = run_eval(None, "fid,prdc", baseline=str(run), progress=False)
    assert real["n"] == 36 and real["features"] == "pixels16" and real["fid"] < r["fid"]


def test_folder_eval_with_inception_weights_file(tmp_path, monkeypatch, capsys):
    from ganforge.features import inception

    folder = make_folder(tmp_path / "shapes", n=24)
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "cache"))
    from ganforge.training.run import train

    run = tmp_path / "run"
    train(folder_config(folder, steps=2), run_dir=run)

    torch.manual_seed(0)
    net = inception.FIDInceptionV3()
    state = {k: (torch.randn_like(v) * 0.05 if v.is_floating_point() else v) for k, v in net.state_dict().items()}
    for k in state:
        if k.endswith("running_var"):
            state[k] = torch.ones_like(state[k])
    weights = tmp_path / "inception.pth"
    torch.save(state, weights)
    # the real file's sha256 is checked: a random file is refused with one line
    assert main(["eval", str(run), "--n", "8", "--inception-weights", str(weights), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert "sha256" in err and "\n" not in err
    monkeypatch.setattr(inception, "REFERENCE_SHA256", inception.file_sha256(weights))
    r = run_eval(str(run), "fid,is", n=8, progress=False, inception_weights=str(weights))
    assert r["features"] == "inception" and r["fid"] >= 0 and r["is_mean"] >= 1
    # without weights the Inception score does not apply: one clear line
    assert main(["eval", str(run), "--metrics", "is", "--n", "8", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert "inception" in err.lower() and "\n" not in err


def test_bare_npz_of_folder_samples_needs_the_run(tmp_path, capsys):
    np.savez(tmp_path / "s.npz", images=np.zeros((4, 3, 16, 16), np.uint8), data="folder")
    assert main(["eval", str(tmp_path / "s.npz"), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert "run directory" in err and "\n" not in err


@pytest.mark.parametrize("bad", ["missing", "empty"])
def test_training_on_a_bad_folder_is_one_line(tmp_path, capsys, bad):
    path = tmp_path / "nothing"
    if bad == "empty":
        path.mkdir()
    assert main(["train", str(CONFIGS / "dcgan_faces64.toml"), f"data.path={path}", "log.progress=false"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and str(path) in err and "\n" not in err
