"""Degenerate evaluation inputs and misfitting metric names: each is one GanforgeError line from the
API and, from the command line, exit status 2 with one ``error:`` line (never a traceback, never
exit 0 with 'inf'). None of these cases needs a network or the real data: the checks come first."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import small_config
from ganforge.cli import main
from ganforge.data import DATASETS
from ganforge.errors import GanforgeError
from ganforge.evaluation import (
    METRICS,
    default_metrics,
    default_n,
    evaluate_points,
    evaluate_samples,
    parse_metrics,
    real_baseline,
    samples_from_npz,
    validate_metrics,
)
from ganforge.evaluation.run import run_eval
from ganforge.registry import did_you_mean


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "stats"))


def cli_error(capsys, argv: list[str]) -> str:
    """Run the CLI; it must exit 2 with exactly one ``error:`` line on stderr. Returns that line."""
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


def one_line(exc_info) -> str:
    text = str(exc_info.value)
    assert "\n" not in text
    return text


# ------------------------------------------------------------------ names and data sets
def test_did_you_mean():
    assert did_you_mean("fdi", ["fid", "kid", "is"]) == " (did you mean 'fid'?)"
    assert did_you_mean("zzzz", ["fid", "kid"]) == ""
    assert did_you_mean("hinge", []) == ""


@pytest.mark.parametrize("names,data,kw,text", [
    (["fdi"], "mnist", {}, "unknown metric 'fdi' (did you mean 'fid'?)"),
    (["fid"], "mnsit", {}, "did you mean 'mnist'?"),
    (["is"], "stacked_mnist", {}, "metric 'is' does not fit stacked_mnist"),
    (["is"], "folder", {}, "--inception-weights"),
    (["modes"], "mnist", {}, "metric 'modes' does not fit mnist"),
    (["modes"], "folder", {}, "metric 'modes' does not fit folder"),
    (["fid", "modes"], "ring8", {}, "ring8 supports only the 'modes' metric"),
    (["kid"], "grid25", {}, "metric 'kid' does not fit grid25"),
    (["accuracy"], "mnist", {}, "needs labelled samples"),
    (["intra_fid"], "fashion_mnist", {}, "needs labelled samples"),
    (["accuracy"], "stacked_mnist", {"labelled": True}, "metric 'accuracy' does not fit stacked_mnist"),
    (["intra_fid"], "folder", {"labelled": True}, "metric 'intra_fid' does not fit folder"),
])
def test_validate_metrics_refuses_with_one_line(names, data, kw, text):
    with pytest.raises(GanforgeError) as exc:
        validate_metrics(names, data, labelled=kw.get("labelled", False))
    assert text in one_line(exc)


def test_validate_metrics_accepts_what_fits_and_loads_nothing(monkeypatch):
    import torch

    def refuse(*a, **k):
        raise AssertionError("validate_metrics loaded a file")

    monkeypatch.setattr(torch, "load", refuse)
    monkeypatch.setattr(np, "load", refuse)
    assert validate_metrics(["is"], "folder", labelled=False, inception_weights="x.pth") == ["is"]
    assert validate_metrics(["fid", "accuracy", "fid"], "mnist", labelled=True) == ["fid", "accuracy"]
    assert validate_metrics(["modes"], "stacked_mnist", labelled=False) == ["modes"]
    assert validate_metrics([], "ring8", labelled=False) == []
    for name in DATASETS.names():  # every data set's defaults fit it
        assert validate_metrics(default_metrics(name), name, labelled=False) == default_metrics(name)
        assert validate_metrics(default_metrics(name, conditional=True), name, labelled=True)


def test_defaults_come_from_the_data_set_registrations():
    assert default_n("mnist") == default_n("folder") == 10_000
    assert default_n("stacked_mnist") == 26_000 and default_n("ring8") == default_n("grid25") == 2_500
    assert default_metrics("mnist") == ["fid", "kid", "is", "prdc", "class_freq"]
    assert default_metrics("mnist", conditional=True)[-2:] == ["accuracy", "intra_fid"]
    assert default_metrics("ring8") == ["modes"] and "modes" in default_metrics("stacked_mnist")
    assert parse_metrics(None, "folder") == ["fid", "kid", "prdc"]
    assert set(METRICS.names()) == {"fid", "kid", "is", "prdc", "modes", "accuracy", "intra_fid", "class_freq", "age"}
    assert parse_metrics(None, "mnist", discriminator=True)[-1] == "class_freq"  # AGE is added by run evaluation
    with pytest.raises(GanforgeError, match="reads a run's discriminator"):
        parse_metrics("age", "ring8", discriminator=True)
    with pytest.raises(GanforgeError, match="names no metric"):
        parse_metrics(" , ", "mnist")


# ------------------------------------------------------------------ .npz files
def test_npz_with_no_arrays(tmp_path, capsys):
    np.savez(tmp_path / "e.npz")
    with pytest.raises(GanforgeError) as exc:
        samples_from_npz(tmp_path / "e.npz", "mnist")
    assert "holds no arrays" in one_line(exc)
    assert "holds no arrays" in cli_error(capsys, ["eval", str(tmp_path / "e.npz"), "--no-progress"])
    np.savez(tmp_path / "d.npz", data="mnist")
    assert "holds no samples" in cli_error(capsys, ["eval", str(tmp_path / "d.npz"), "--no-progress"])


@pytest.mark.parametrize("key,shape,data", [("images", (0, 1, 28, 28), "mnist"), ("points", (0, 2), "ring8")])
def test_npz_with_zero_samples(tmp_path, capsys, key, shape, data):
    np.savez(tmp_path / "z.npz", **{key: np.zeros(shape, np.uint8 if key == "images" else np.float32)}, data=data)
    with pytest.raises(GanforgeError) as exc:
        run_eval(str(tmp_path / "z.npz"), progress=False)
    assert "empty" in one_line(exc)
    assert "empty" in cli_error(capsys, ["eval", str(tmp_path / "z.npz"), "--no-progress"])


def test_npz_of_an_unknown_data_set(tmp_path, capsys):
    np.savez(tmp_path / "u.npz", images=np.zeros((4, 1, 28, 28), np.uint8), data="mnsit")
    assert "did you mean 'mnist'" in cli_error(capsys, ["eval", str(tmp_path / "u.npz"), "--no-progress"])


# ------------------------------------------------------------------ the number of samples
@pytest.mark.parametrize("n", [0, -3])
def test_n_must_be_positive(n, capsys):
    for call in (lambda: run_eval(None, baseline="ring8", n=n, progress=False),
                 lambda: real_baseline("ring8", n)):
        with pytest.raises(GanforgeError) as exc:
            call()
        assert ">= 1" in one_line(exc)
    assert ">= 1" in cli_error(capsys, ["eval", "--real-baseline", "ring8", "--n", str(n), "--no-progress"])


def test_n_is_checked_before_a_run_is_sampled(tmp_path, monkeypatch, capsys):
    from ganforge.evaluation import run as run_module
    from ganforge.training.run import train

    train(small_config(), run_dir="run")  # ring8

    def refuse(*a, **k):
        raise AssertionError("samples were generated before the names were checked")

    monkeypatch.setattr(run_module, "generator_samples", refuse)
    with pytest.raises(GanforgeError, match="did you mean 'modes'"):
        run_eval("run", "mode", progress=False)
    with pytest.raises(GanforgeError, match=">= 1"):
        run_eval("run", n=0, progress=False)
    assert "does not fit ring8" in cli_error(capsys, ["eval", "run", "--metrics", "fid", "--no-progress"])


@pytest.mark.parametrize("metric,n,minimum", [("fid", 1, 2), ("kid", 1, 2), ("prdc", 5, 6), ("intra_fid", 1, 2)])
def test_too_few_samples_names_the_minimum(tmp_path, capsys, metric, n, minimum):
    samples = {"images": np.zeros((n, 1, 28, 28), np.uint8)}
    if metric == "intra_fid":
        samples["labels"] = np.zeros(n, np.int64)
    with pytest.raises(GanforgeError) as exc:
        evaluate_samples(samples, "mnist", [metric])
    assert f"at least {minimum} samples, got {n}" in one_line(exc)
    np.savez(tmp_path / "few.npz", **samples, data="mnist")
    err = cli_error(capsys, ["eval", str(tmp_path / "few.npz"), "--metrics", metric, "--no-progress"])
    assert f"at least {minimum}" in err


# ------------------------------------------------------------------ points
@pytest.mark.parametrize("points,text", [
    (np.zeros((10, 3)), "N x 2"),
    (np.zeros(10), "N x 2"),
    (np.zeros((4, 2, 1)), "N x 2"),
    (np.zeros((0, 2)), "empty"),
    (np.array([[0.0, 1.0], [np.nan, 0.0], [np.inf, 1.0]]), "not finite"),
    (np.array([["a", "b"]]), "N x 2"),
])
def test_bad_points(tmp_path, capsys, points, text):
    with pytest.raises(GanforgeError) as exc:
        evaluate_samples({"points": points}, "ring8", ["modes"])
    assert text in one_line(exc)
    np.savez(tmp_path / "p.npz", points=points, data="ring8")
    assert text in cli_error(capsys, ["eval", str(tmp_path / "p.npz"), "--no-progress"])


def test_points_for_an_image_set_and_images_for_a_toy_set():
    with pytest.raises(GanforgeError, match="must be images"):
        evaluate_samples({"points": np.zeros((5, 2))}, "mnist", ["fid"])
    with pytest.raises(GanforgeError, match="must be 2-D points"):
        evaluate_samples({"images": np.zeros((5, 1, 28, 28), np.uint8)}, "ring8", ["modes"])
    with pytest.raises(GanforgeError, match="does not fit ring8"):
        evaluate_points(np.zeros((5, 2)), "ring8", ["fid"])


# ------------------------------------------------------------------ images
@pytest.mark.parametrize("images,data,text", [
    (np.zeros((4, 1, 28, 28), np.float32), "mnist", "N x 1 x 28 x 28 uint8"),
    (np.zeros((4, 3, 28, 28), np.uint8), "mnist", "got 4 x 3 x 28 x 28 uint8"),
    (np.zeros((4, 28, 28), np.uint8), "fashion_mnist", "N x 1 x 28 x 28 uint8"),
    (np.zeros((4, 1, 28, 28), np.uint8), "stacked_mnist", "N x 3 x 28 x 28 uint8"),
    (np.zeros((4, 1, 32, 32), np.uint8), "mnist", "got 4 x 1 x 32 x 32"),
])
def test_bad_images(tmp_path, capsys, images, data, text):
    with pytest.raises(GanforgeError) as exc:
        evaluate_samples({"images": images}, data, ["fid"])
    assert text in one_line(exc)
    np.savez(tmp_path / "i.npz", images=images, data=data)
    assert text in cli_error(capsys, ["eval", str(tmp_path / "i.npz"), "--metrics", "fid", "--no-progress"])


def test_folder_images_must_have_the_runs_size():
    from ganforge.config import DataConfig

    dcfg = DataConfig(name="folder", path="somewhere", size=16)
    with pytest.raises(GanforgeError, match="N x 3 x 16 x 16 uint8"):
        evaluate_samples({"images": np.zeros((4, 3, 32, 32), np.uint8)}, "folder", ["fid"], dcfg=dcfg)


@pytest.mark.parametrize("labels,text", [
    (np.zeros(3, np.int64), "labels must be 4 integers"),
    (np.zeros(4, np.float32), "labels must be 4 integers"),
    (np.array([0, 1, 2, 10]), "labels must be in 0..9"),
])
def test_bad_labels(labels, text):
    samples = {"images": np.zeros((4, 1, 28, 28), np.uint8), "labels": labels}
    with pytest.raises(GanforgeError) as exc:
        evaluate_samples(samples, "mnist", ["accuracy"])
    assert text in one_line(exc)
