"""Shared fixtures.

Real MNIST/Fashion-MNIST are reached only through ``GANFORGE_DATA`` (``.ci/run`` sets it to
``../shared/data``): unset -> those tests skip; set but the files are missing -> they fail.
Everything else runs on small data the tests make themselves.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from ganforge.config import Config, config_from_dict


@pytest.fixture(autouse=True)
def _isolate(monkeypatch, tmp_path):
    """Every test runs in its own directory, with two threads at most and a fixed seed."""
    monkeypatch.chdir(tmp_path)
    torch.set_num_threads(min(2, torch.get_num_threads()))


@pytest.fixture
def real_data_root() -> Path:
    root = os.environ.get("GANFORGE_DATA")
    if not root:
        pytest.skip("GANFORGE_DATA is not set (bash .ci/run sets it to ../shared/data)")
    path = Path(root)
    missing = [f"{d}/{f}" for d in ("mnist", "fashion-mnist")
               for f in ("train-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
               if not (path / d / f).is_file()]
    if missing:
        pytest.fail(f"GANFORGE_DATA={root} is set but lacks {missing}")
    return path


def write_idx(path: Path, array: np.ndarray) -> str:
    """Write ``array`` (uint8) as a gzip IDX file; returns its md5."""
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture
def fake_mnist(tmp_path, monkeypatch) -> Path:
    """A tiny MNIST-format data set (train 256 / test 64 images of bright squares, label = square's
    row band) registered under the real md5 table, so the real loader code runs on it; its feature
    statistics are cached in the test's own folder (GANFORGE_CACHE)."""
    from ganforge.data import mnist

    root = tmp_path / "data"
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 256), ("t10k", 64)):
        labels = rng.integers(0, 10, n).astype(np.uint8)
        images = np.zeros((n, 28, 28), np.uint8)
        for i, lab in enumerate(labels):
            r = 2 + 2 * int(lab)
            c = int(rng.integers(2, 20))
            images[i, r:r + 6, c:c + 6] = 255
        for kind, arr in (("images-idx3", images), ("labels-idx1", labels)):
            fname = f"{prefix}-{kind}-ubyte.gz"
            md5 = write_idx(root / "mnist" / fname, arr)
            monkeypatch.setitem(mnist.MNIST.md5, fname, md5)
    monkeypatch.setenv("GANFORGE_DATA", str(root))
    # its reference statistics must not land in the user's cache under the real data set's name
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "stats"))
    return root


def small_config(**sections) -> Config:
    """A fast config; ``sections`` are nested dicts merged over the defaults."""
    base = {
        "name": "t",
        "seed": 0,
        "data": {"name": "ring8", "batch_size": 32},
        "model": {"latent_dim": 4, "g": {"hidden": [32], "output": "none"}, "d": {"hidden": [32]}},
        "train": {"steps": 20},
        "log": {"every": 5, "sample_every": 10, "checkpoint_every": 10, "n_samples": 16, "progress": False,
                "tensorboard": False},
    }
    for key, value in sections.items():
        if isinstance(value, dict):
            merged = dict(base.get(key, {}))
            for k, v in value.items():
                if isinstance(v, dict):
                    merged[k] = {**merged.get(k, {}), **v}
                else:
                    merged[k] = v
            base[key] = merged
        else:
            base[key] = value
    return config_from_dict(base)


def assert_resume_is_exact(sections: dict, steps: int = 12, keys=("d_loss", "g_loss")) -> tuple[Path, Path]:
    """Train ``steps`` steps in one go ("full") and half of them plus a resume ("half"); every logged
    ``keys`` value must agree to 1e-6. Returns both run directories."""
    from ganforge.training.run import resume, train

    trained = sections.get("train", {})
    sections = dict(sections, train={**trained, "steps": steps},
                    log={**sections.get("log", {}), "every": 1, "checkpoint_every": 0})
    full, _, _ = train(small_config(**sections), run_dir="full")
    half, _, _ = train(small_config(**dict(sections, train={**trained, "steps": steps // 2})), run_dir="half")
    resume(half, [f"train.steps={steps}"])
    a = [json.loads(x) for x in (full / "metrics.jsonl").read_text().splitlines()]
    b = [json.loads(x) for x in (half / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in b] == list(range(1, steps + 1))
    for x, y in zip(a, b):
        for key in keys:
            assert x[key] == pytest.approx(y[key], abs=1e-6), (x["step"], key)
    return full, half
