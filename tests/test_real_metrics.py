"""Metrics on the real MNIST / Fashion-MNIST / Stacked MNIST data (needs GANFORGE_DATA)."""

import json

import numpy as np
import pytest

from ganforge.features import WEIGHTS_DIR, file_sha256, load_classifier
from ganforge.training.classifier import accuracy


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "stats"))


@pytest.mark.parametrize("data,goal", [("mnist", 0.993), ("fashion_mnist", 0.91)])
def test_shipped_classifier_accuracy_and_sha256(real_data_root, data, goal):
    from ganforge.data import load_idx_set

    card = json.loads((WEIGHTS_DIR / f"{data}_classifier.json").read_text())
    weights = WEIGHTS_DIR / f"{data}_classifier.pt"
    assert file_sha256(weights) == card["sha256"] and weights.stat().st_size < 1_000_000
    images, labels = load_idx_set(data, "test", real_data_root)
    acc = accuracy(load_classifier(data).net, images, labels)
    assert acc >= goal and acc == pytest.approx(card["test_accuracy"], abs=1e-4)


def test_real_stacked_mnist_covers_1000_modes(real_data_root):
    from ganforge.data import stacked_mnist
    from ganforge.evaluation import evaluate_samples

    images, labels = stacked_mnist("train", 26_000, real_data_root)
    assert images.shape == (26_000, 3, 28, 28) and len(labels.unique()) > 990
    r = evaluate_samples({"images": images.numpy()}, "stacked_mnist", ["modes"])
    assert r["modes"] >= 995 and r["kl"] < 0.05
    collapsed = np.repeat(images[:1].numpy(), 2000, axis=0)
    r = evaluate_samples({"images": collapsed}, "stacked_mnist", ["modes"])
    assert r["modes"] == 1 and r["kl"] == pytest.approx(np.log(1000))


def test_real_baselines_are_small(real_data_root):
    from ganforge.evaluation import evaluate_samples, real_baseline

    for data in ("mnist", "fashion_mnist"):
        real = evaluate_samples(real_baseline(data, 2000, root=real_data_root), data, ["fid", "is"])
        noise = np.random.default_rng(0).integers(0, 256, (2000, 1, 28, 28), dtype=np.uint8)
        bad = evaluate_samples({"images": noise}, data, ["fid", "is"])
        assert real["fid"] < 1 and real["fid"] < 0.01 * bad["fid"]
        assert real["is_mean"] > 8 and bad["is_mean"] < 2


def test_class_frequencies_of_real_images_match_the_training_set(real_data_root):
    from ganforge.evaluation import evaluate_samples, real_baseline

    real = evaluate_samples(real_baseline("mnist", 2000, root=real_data_root), "mnist", ["class_freq"])
    assert real["class_freq_ref"][1] == pytest.approx(0.1124, abs=1e-3)  # 6,742 ones in 60,000
    assert real["class_freq_ref"][5] == pytest.approx(0.0904, abs=1e-3)  # 5,421 fives
    assert real["class_freq_max_dev"] < 2.5  # 2,000 samples: about 0.7 pp of sampling noise per class
    sample = real_baseline("mnist", 2000, root=real_data_root)
    no_ones = {"images": sample["images"][sample["labels"] != 1]}  # a generator that never draws a one
    assert evaluate_samples(no_ones, "mnist", ["class_freq"])["class_freq_max_dev"] > 10
