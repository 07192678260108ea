"""Labelled image folders (issue 28): class subfolders or a StyleGAN2-ADA dataset.json, labels that
follow the split and skipped files, conditional training and sampling by class name, the folder's own
classifier as a feature space for eval, and every bad input as one line."""

from __future__ import annotations

import json
import runpy
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import small_config
from ganforge.cli import main
from ganforge.data.folder import list_images, load_folder, load_labelled_folder, split_indices
from ganforge.evaluation.run import run_eval
from ganforge.features.base import file_sha256
from ganforge.training.run import train

ROOT = Path(__file__).resolve().parents[1]
COLOURS = {"cat": (220, 40, 40), "dog": (40, 200, 40), "fox": (40, 40, 220)}  # classes 0, 1, 2 (sorted names)


def make_labelled(root: Path, per_class: int = 8, side: int = 16) -> Path:
    """``per_class`` noisy images of each class's colour in its subfolder (one a level deeper), and a
    dataset.json with the same labels and class names."""
    rng = np.random.default_rng(0)
    entries = []
    for c, (name, colour) in enumerate(sorted(COLOURS.items())):
        for i in range(per_class):
            rel = f"{name}/deep/{i:02d}.png" if i == 0 else f"{name}/{i:02d}.png"
            img = np.clip(np.array(colour) + rng.normal(0, 20, (side, side, 3)), 0, 255).astype(np.uint8)
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(img).save(root / rel)
            entries.append([rel, c])
    (root / "dataset.json").write_text(json.dumps({"labels": entries, "class_names": sorted(COLOURS)}))
    return root


def colour_class(images: torch.Tensor) -> np.ndarray:
    """The class of each image by its brightest channel (cat red 0, dog green 1, fox blue 2)."""
    return images.float().mean(dim=(2, 3)).argmax(1).numpy()


def gan_config(folder: Path, run_overrides: dict | None = None, **data):
    return small_config(
        data={"name": "folder", "path": str(folder), "labels": "folders", "size": 16, "batch_size": 8,
              "val_fraction": 0.25, **data},
        model={"latent_dim": 8, "conditioning": "acgan", "g": {"hidden": [32], "output": "tanh"}, "d": {"hidden": [32]}},
        train={"steps": 2}, log={"every": 1, "sample_every": 0, "checkpoint_every": 0}, **(run_overrides or {}))


def one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err, err
    return err


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    """A labelled folder, its classifier, and a 2-step AC-GAN run on it evaluated in that classifier."""
    base = tmp_path_factory.mktemp("labelled")
    mp = pytest.MonkeyPatch()
    mp.setenv("GANFORGE_CACHE", str(base / "cache"))
    folder = make_labelled(base / "animals")
    clf = base / "animals_16px.pt"
    assert main(["train-classifier", "--data", "folder", "--data-path", str(folder), "--size", "16", "--epochs", "1",
                 "--batch-size", "8", "--val-fraction", "0.25", "--out", str(clf), "--no-progress"]) == 0
    cfg = gan_config(folder, {"eval": {"every": 2, "n": 12, "metrics": ["fid", "accuracy"], "features": str(clf)}})
    run, _, status = train(cfg, run_dir=base / "run")
    assert status == "finished"
    yield {"folder": folder, "clf": clf, "run": Path(run), "base": base}
    mp.undo()


# ---------------------------------------------------------------------------- the two label forms
def test_both_forms_give_the_same_labels_and_follow_the_split(tmp_path):
    folder = make_labelled(tmp_path / "animals")
    names = tuple(sorted(COLOURS))
    for split in ("all", "train", "val"):
        x, y, got = load_labelled_folder(folder, 16, split, 0.25, "folders", progress=False)
        x2, y2, got2 = load_labelled_folder(folder, 16, split, 0.25, str(folder / "dataset.json"), progress=False)
        assert got == got2 == names and torch.equal(y, y2) and torch.equal(x, x2)
        assert torch.equal(x, load_folder(folder, 16, split, 0.25, progress=False))  # the same images as unlabelled
        assert (colour_class(x) == y.numpy()).all()  # each image keeps its own label
    files = list_images(folder)
    rel = [f.relative_to(folder).as_posix() for f in files]
    _, y_all, _ = load_labelled_folder(folder, 16, "all", 0.25, "folders", progress=False)
    assert [names[k] for k in y_all] == [r.split("/")[0] for r in rel]  # a deeper image belongs to its top folder
    _, y_val, _ = load_labelled_folder(folder, 16, "val", 0.25, "folders", progress=False)
    assert torch.equal(y_val, y_all[split_indices(len(files), "val", 0.25)])


def test_without_class_names_the_classes_are_the_indices(tmp_path):
    folder = make_labelled(tmp_path / "animals")
    doc = json.loads((folder / "dataset.json").read_text())
    (folder / "plain.json").write_text(json.dumps({"labels": doc["labels"]}))
    _, y, names = load_labelled_folder(folder, 16, "all", 0.0, "plain.json", progress=False)
    assert names == ("0", "1", "2") and sorted(set(y.tolist())) == [0, 1, 2]


def test_unreadable_files_do_not_shift_the_labels_and_the_cache_keeps_them(tmp_path, monkeypatch):
    folder = make_labelled(tmp_path / "animals")
    (folder / "cat" / "03.png").write_bytes(b"not a png")  # a cat that cannot be read
    x = load_folder(folder, 16, "all", progress=False)  # unlabelled first: its cache gains no new file
    cache = folder / ".ganforge_cache"
    assert len(x) == 23 and [p.name.endswith(".kept.npy") for p in cache.iterdir()] == [False]
    x, y, _ = load_labelled_folder(folder, 16, "all", 0.0, "folders", progress=False)
    assert len(x) == 23 and (colour_class(x) == y.numpy()).all() and y.tolist().count(0) == 7
    assert len(list(cache.glob("*.kept.npy"))) == 1

    def broken(*args, **kwargs):
        raise RuntimeError("decoding must not happen")

    monkeypatch.setattr(Image, "open", broken)  # from the cache now, labels still aligned
    for split in ("train", "val"):
        xs, ys, _ = load_labelled_folder(folder, 16, split, 0.25, "dataset.json", progress=False)
        assert (colour_class(xs) == ys.numpy()).all()


def test_make_faces_folder_writes_both_forms_of_hair_classes(tmp_path, monkeypatch, capsys):
    script = str(ROOT / "benchmarks" / "make_faces_folder.py")
    for out, extra in (("plain", []), ("hair", ["--classes", "hair"])):
        monkeypatch.setattr(sys, "argv", [script, str(tmp_path / out), "--n", "12", "--seed", "3", *extra])
        runpy.run_path(script, run_name="__main__")
    hair = tmp_path / "hair"
    doc = json.loads((hair / "dataset.json").read_text())
    assert set(doc["class_names"]) <= {"black", "brown", "blond", "red", "grey"} and len(doc["class_names"]) >= 3
    assert doc["class_names"] == sorted(doc["class_names"]) == sorted(p.name for p in hair.iterdir() if p.is_dir())
    for rel, label in doc["labels"]:  # same image bytes as the unlabelled run, under its class folder
        name = Path(rel).name
        assert (hair / rel).read_bytes() == (tmp_path / "plain" / "00" / name).read_bytes()
        assert rel.split("/")[0] == doc["class_names"][label]
    _, a, names_a = load_labelled_folder(hair, 16, "all", 0.0, "folders", progress=False)
    _, b, names_b = load_labelled_folder(hair, 16, "all", 0.0, "dataset.json", progress=False)
    assert torch.equal(a, b) and list(names_a) == list(names_b) == doc["class_names"]


# ---------------------------------------------------------------------------- training, sampling, export
def test_acgan_on_a_labelled_folder_records_its_classes_and_samples_by_name(labelled, capsys, tmp_path):
    run = labelled["run"]
    assert 'class_names = ["cat", "dog", "fox"]' in (run / "config.toml").read_text()
    evals = [json.loads(line)["eval"] for line in open(run / "metrics.jsonl") if '"eval"' in line]
    assert evals and evals[-1]["features"] == "folder_classifier" and 0 <= evals[-1]["accuracy"] <= 1
    assert main(["sample", str(run), "--label", "dog", "--n", "4", "--out", str(tmp_path / "dog.npz")]) == 0
    with np.load(tmp_path / "dog.npz") as f:
        assert f["labels"].tolist() == [1, 1, 1, 1] and f["images"].shape == (4, 3, 16, 16)
    assert main(["sample", str(run), "--label", "2", "--n", "2", "--out", str(tmp_path / "two.npz")]) == 0
    with np.load(tmp_path / "two.npz") as f:
        assert f["labels"].tolist() == [2, 2]
    assert main(["interpolate", str(run), "--morph", "cat", "fox", "--steps", "3", "--rows", "2",
                 "--out", str(tmp_path / "morph.png")]) == 0
    assert main(["export", str(run), "--out", str(tmp_path / "g.pt")]) == 0
    meta = json.loads((tmp_path / "g.pt.json").read_text())
    assert meta["inputs"]["labels"]["class_names"] == ["cat", "dog", "fox"]


@pytest.mark.parametrize("conditioning, extra", [("projection", {}), ("semi", {"labels_per_class": 2})])
def test_other_conditionings_train_on_a_labelled_folder(tmp_path, conditioning, extra):
    folder = make_labelled(tmp_path / "animals")
    cfg = gan_config(folder, **extra)
    cfg.model.conditioning = conditioning
    _, _, status = train(cfg, run_dir=tmp_path / "run")
    assert status == "finished"


def test_grids_of_a_labelled_run_are_titled_with_its_class_names(labelled, tmp_path):
    from ganforge.viz import make_grid

    # `sample` without --label: column c holds class c, its name on top; the images below are the untitled grid
    assert main(["sample", str(labelled["run"]), "--n", "6", "--out", str(tmp_path / "s.png")]) == 0
    assert main(["sample", str(labelled["run"]), "--n", "6", "--out", str(tmp_path / "s.npz")]) == 0
    with np.load(tmp_path / "s.npz") as f:
        assert f["labels"].tolist() == [0, 1, 2, 0, 1, 2]
        plain = np.asarray(make_grid(f["images"], nrow=3, scale=2))
    titled = np.asarray(Image.open(tmp_path / "s.png"))
    top = titled.shape[0] - plain.shape[0]
    assert titled.shape[1] == plain.shape[1] and top > 0
    assert np.array_equal(titled[top:], plain)
    assert (titled[:top] > 150).any()  # the names are drawn in white on the black margin
    # the fixed-noise grid of training: one row per class, the names in a left margin
    from ganforge.choices import load_run_config

    grid = np.asarray(Image.open(sorted((labelled["run"] / "samples").glob("step_*.png"))[-1]))
    nrow = load_run_config(labelled["run"])[0].log.n_samples // 3
    left = grid.shape[1] - (nrow * (16 + 2) + 2) * 2  # beyond the untitled grid's width at scale 2
    assert grid.shape[0] == (3 * (16 + 2) + 2) * 2 and left > 0 and (grid[:, :left] > 150).any()


def test_make_grid_titles_leave_the_images_untouched():
    from ganforge.viz import make_grid

    images = np.random.default_rng(0).integers(0, 256, (6, 3, 8, 8), dtype=np.uint8)
    plain = np.asarray(make_grid(images, nrow=3, scale=2))
    titled = np.asarray(make_grid(images, nrow=3, scale=2, row_titles=["first", "second"], col_titles=["a", "b", "c"]))
    h, w = plain.shape[:2]
    assert np.array_equal(titled[-h:, -w:], plain)
    assert (titled[:-h] > 200).any() and (titled[:, :-w] > 200).any()
    gray = np.asarray(make_grid(images[:, :1], nrow=3, row_titles=["x", "y"]))
    assert gray.ndim == 2 and (gray[:, :gray.shape[1] - 3 * 10 - 2] > 150).any()


# ---------------------------------------------------------------------------- the folder's classifier
def test_folder_classifier_card_and_eval_in_its_features(labelled):
    clf = labelled["clf"]
    card = json.loads(clf.with_suffix(".json").read_text())
    assert card["sha256"] == file_sha256(clf) and 0 <= card["val_accuracy"] <= 1 and card["n_val"] == 6
    assert card["size"] == 16 and card["channels"] == 3 and card["class_names"] == ["cat", "dog", "fox"]
    assert len(card["fingerprint"]) == 16 and card["labels_sha1"]
    r = run_eval(str(labelled["run"]), None, n=12, progress=False, features=str(clf))
    assert r["features"] == "folder_classifier" and r["reference"] == "val split"
    assert r["fid"] >= 0 and np.isfinite(r["kid_mean"]) and 0 <= r["coverage"] <= 1
    assert 0 <= r["accuracy"] <= 1 and len(r["accuracy_per_class"]) == 3
    # the run's own eval.features is used when no flag is given
    assert run_eval(str(labelled["run"]), "fid", n=12, progress=False)["features"] == "folder_classifier"


def test_folder_classifier_is_reproducible_to_the_byte(tmp_path):
    from ganforge.training.folder_classifier import train_folder_classifier

    folder = make_labelled(tmp_path / "animals")
    cards = [train_folder_classifier(str(folder), size=16, out=tmp_path / name, epochs=1, batch_size=8,
                                     val_fraction=0.25, progress=False, log=lambda s: None)
             for name in ("a.pt", "b.pt")]
    assert cards[0]["sha256"] == cards[1]["sha256"] == file_sha256(tmp_path / "b.pt")


# ---------------------------------------------------------------------------- bad input: one line each
def _write_json(folder: Path, doc) -> None:
    (folder / "dataset.json").write_text(doc if isinstance(doc, str) else json.dumps(doc))


def _entries(folder: Path) -> list:
    return json.loads((folder / "dataset.json").read_text())["labels"]


LABEL_FILE_PROBLEMS = {
    "missing files": (lambda f: _write_json(f, {"labels": _entries(f) + [["cat/ghost.png", 0]]}), "ghost.png"),
    "out of range": (lambda f: _write_json(f, {"labels": _entries(f)[:-1] + [[_entries(f)[-1][0], 7]],
                                               "class_names": ["cat", "dog", "fox"]}), "out of range"),
    "too large without names": (lambda f: _write_json(f, {"labels": _entries(f)[:-1] + [[_entries(f)[-1][0], 99]]}),
                                "label 99 is out of range"),
    "class without images": (lambda f: _write_json(f, {"labels": _entries(f), "class_names": ["cat", "dog", "fox", "owl"]}),
                             "class 'owl' has no images"),
    "negative": (lambda f: _write_json(f, {"labels": [[_entries(f)[0][0], -1]] + _entries(f)[1:]}), "negative"),
    "non-integer": (lambda f: _write_json(f, {"labels": [[_entries(f)[0][0], 1.5]] + _entries(f)[1:]}), "whole number"),
    "not json": (lambda f: _write_json(f, '{"labels": [["cat/01.png", 0],'), "not valid JSON"),
    "no labels list": (lambda f: _write_json(f, {"labels": None}), '"labels" list'),
    "not a pair": (lambda f: _write_json(f, {"labels": [["cat/01.png"]]}), "pair"),
    "unlabelled image": (lambda f: _write_json(f, {"labels": _entries(f)[1:]}), "no label"),
}
FOLDER_PROBLEMS = {
    "empty class subfolder": (lambda f: (f / "owl").mkdir(), "'owl'"),
    "image beside the classes": (lambda f: shutil.copy(f / "cat" / "01.png", f / "loose.png"), "loose.png"),
}


@pytest.mark.parametrize("problem", sorted(LABEL_FILE_PROBLEMS) + sorted(FOLDER_PROBLEMS))
def test_bad_labels_are_one_line_before_any_run_is_made(tmp_path, capsys, problem):
    folder = make_labelled(tmp_path / "animals")
    spoil, words = {**LABEL_FILE_PROBLEMS, **FOLDER_PROBLEMS}[problem]
    spoil(folder)
    labels = "dataset.json" if problem in LABEL_FILE_PROBLEMS else "folders"
    code = main(["train", "data.name=folder", f"data.path={folder}", f"data.labels={labels}", "data.size=16",
                 "data.batch_size=8", "model.conditioning=acgan", "train.steps=1", "log.progress=false",
                 "log.tensorboard=false", "--run-dir", str(tmp_path / "run")])
    line = one_line(capsys)
    assert code == 2 and words in line, line
    assert not (tmp_path / "run").exists()


def test_bad_labels_at_resume_keep_the_checkpoint(tmp_path, capsys):
    folder = make_labelled(tmp_path / "animals")
    run, _, _ = train(gan_config(folder, labels="dataset.json"), run_dir=tmp_path / "run")
    last = Path(run) / "checkpoints" / "last.pt"
    before = last.read_bytes()
    _write_json(folder, {"labels": _entries(folder) + [["fox/ghost.png", 2]]})
    assert main(["train", "--resume", str(run), "train.steps=4", "--no-progress"]) == 2
    assert "ghost.png" in one_line(capsys) and last.read_bytes() == before
    _write_json(folder, {"labels": _entries(folder)[:-1], "class_names": ["cat", "dog", "wolf"]})  # ghost gone
    assert main(["train", "--resume", str(run), "train.steps=4", "--no-progress"]) == 2  # the run's classes were others
    assert "wolf" in one_line(capsys) and last.read_bytes() == before


def test_unknown_class_name_for_label_says_which_exist(labelled, capsys, tmp_path):
    assert main(["sample", str(labelled["run"]), "--label", "dgo", "--out", str(tmp_path / "s.png")]) == 2
    line = one_line(capsys)
    assert "did you mean 'dog'" in line and "cat, dog, fox" in line


@pytest.mark.parametrize("problem", ["size", "channels", "sha256", "classes"])
def test_classifier_that_does_not_fit_the_run_is_one_line(labelled, capsys, tmp_path, problem):
    clf = tmp_path / "clf.pt"
    shutil.copy(labelled["clf"], clf)
    card = json.loads(labelled["clf"].with_suffix(".json").read_text())
    if problem == "size":
        card["size"] = 32
    elif problem == "channels":
        card["channels"] = 1
    elif problem == "classes":
        card["class_names"] = ["ant", "bee", "cow"]
    else:
        clf.write_bytes(clf.read_bytes() + b"\0")
    clf.with_suffix(".json").write_text(json.dumps(card))
    metrics = ["--metrics", "accuracy"] if problem == "classes" else []
    assert main(["eval", str(labelled["run"]), "--n", "8", "--features", str(clf), *metrics, "--no-progress"]) == 2
    line = one_line(capsys)
    want = {"size": "--size 16", "channels": "1-channel", "sha256": "sha256", "classes": "ant, bee, cow"}[problem]
    assert want in line, line
