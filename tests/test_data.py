import gzip

import numpy as np
import pytest
import torch

from ganforge.config import DataConfig
from ganforge.data import build_data, load_idx_set
from ganforge.data import mnist
from ganforge.data.batches import DataInfo, InMemoryBatches
from ganforge.data.toy import mixture_centers
from ganforge.errors import GanforgeError


def test_idx_files_load_into_one_uint8_tensor(fake_mnist):
    images, labels = load_idx_set("mnist", "train")
    assert images.shape == (256, 1, 28, 28) and images.dtype == torch.uint8
    assert labels.shape == (256,) and labels.dtype == torch.int64 and int(labels.max()) <= 9
    test_images, _ = load_idx_set("mnist", "test")
    assert test_images.shape == (64, 1, 28, 28)


def test_corrupt_file_names_file_and_md5(fake_mnist):
    path = fake_mnist / "mnist" / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(GanforgeError) as e:
        load_idx_set("mnist", "train")
    msg = str(e.value)
    assert "corrupt data file" in msg and str(path) in msg and mnist.MNIST.md5[path.name] in msg
    assert "\n" not in msg


def test_missing_files_without_download(tmp_path):
    with pytest.raises(GanforgeError, match=r"missing data file .*mnist/train-images-idx3-ubyte.gz.*GANFORGE_DATA"):
        load_idx_set("mnist", "train", root=tmp_path / "empty", download=False)


def test_download_tries_mirrors_and_verifies_md5(tmp_path, monkeypatch):
    from conftest import write_idx

    good, bad = tmp_path / "good", tmp_path / "bad"
    md5 = {}
    for prefix, n in (("train", 20), ("t10k", 5)):
        img = np.full((n, 28, 28), 7, np.uint8)
        lab = np.arange(n, dtype=np.uint8) % 10
        md5[f"{prefix}-images-idx3-ubyte.gz"] = write_idx(good / f"{prefix}-images-idx3-ubyte.gz", img)
        md5[f"{prefix}-labels-idx1-ubyte.gz"] = write_idx(good / f"{prefix}-labels-idx1-ubyte.gz", lab)
        write_idx(bad / f"{prefix}-images-idx3-ubyte.gz", img + 1)  # wrong md5: must be rejected
        write_idx(bad / f"{prefix}-labels-idx1-ubyte.gz", lab + 1)
    spec = mnist.IdxSet("mnist", "mnist", ("http://127.0.0.1:9/", bad.as_uri() + "/", good.as_uri() + "/"), md5,
                        mnist.MNIST.classes)
    monkeypatch.setitem(mnist.IDX_SETS, "mnist", spec)
    images, labels = load_idx_set("mnist", "train", root=tmp_path / "cache")
    assert images.shape == (20, 1, 28, 28) and int(images[0, 0, 0, 0]) == 7
    assert sorted(p.name for p in (tmp_path / "cache" / "mnist").iterdir()) == [
        "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]  # no partial files left behind


def test_offline_download_is_one_clear_line(tmp_path, monkeypatch):
    monkeypatch.setattr(mnist, "MNIST", mnist.IdxSet("mnist", "mnist", ("http://127.0.0.1:9/", "file:///nonexistent/"),
                                                     dict(mnist.MNIST.md5), mnist.MNIST.classes))
    monkeypatch.setitem(mnist.IDX_SETS, "mnist", mnist.MNIST)
    with pytest.raises(GanforgeError) as e:
        load_idx_set("mnist", "train", root=tmp_path / "cache")
    msg = str(e.value)
    assert "could not download train-images-idx3-ubyte.gz" in msg and "f68b3c2dcbeaaa9fbdd348bbdeb94873" in msg
    assert "\n" not in msg


def test_batches_visit_every_image_once_per_epoch():
    images = torch.arange(10, dtype=torch.uint8).view(10, 1, 1, 1).expand(10, 1, 2, 2).contiguous()
    src = InMemoryBatches(images, torch.arange(10), batch_size=3, seed=1, info=DataInfo("image", (1, 2, 2)))
    assert src.batches_per_epoch == 3
    seen = torch.cat([src.next()[1] for _ in range(3)])
    assert len(set(seen.tolist())) == 9  # one image dropped (last partial batch)
    x, y = src.next()
    assert src.epoch == 1 and x.min() >= -1 and x.max() <= 1
    # pixel value v maps to v / 127.5 - 1
    assert torch.allclose(x[:, 0, 0, 0], y.float() / 127.5 - 1)


def test_batches_resume_exactly():
    images = torch.randint(0, 255, (50, 1, 2, 2), dtype=torch.uint8)
    a = InMemoryBatches(images, None, 8, seed=3, info=DataInfo("image", (1, 2, 2)))
    for _ in range(9):
        a.next()
    state = a.state_dict()
    expected = [a.next()[0] for _ in range(10)]
    b = InMemoryBatches(images, None, 8, seed=3, info=DataInfo("image", (1, 2, 2)))
    b.load_state_dict(state)
    for e in expected:
        assert torch.equal(b.next()[0], e)


def test_toy_mixtures_match_the_pacgan_setup():
    ring = mixture_centers("ring8")
    assert ring.shape == (8, 2) and torch.allclose(ring.norm(dim=1), torch.ones(8))
    grid = mixture_centers("grid25")
    assert grid.shape == (25, 2) and sorted(set(grid[:, 0].tolist())) == [-4, -2, 0, 2, 4]
    src = build_data(DataConfig(name="ring8", batch_size=4096), seed=0)
    pts, _ = src.next()
    d = torch.cdist(pts, ring).min(dim=1).values
    assert pts.shape == (4096, 2) and 0.008 < d.mean() / (0.01 * (torch.pi / 2) ** 0.5) < 1.2  # Rayleigh mean
    src = build_data(DataConfig(name="grid25", batch_size=4096), seed=0)
    pts, _ = src.next()
    nearest = torch.cdist(pts, grid).argmin(dim=1)
    assert len(nearest.unique()) == 25
    assert torch.allclose((pts - grid[nearest]).std(), torch.tensor(0.05), rtol=0.1)


def test_unknown_data_set_suggests():
    with pytest.raises(GanforgeError, match="did you mean 'fashion_mnist'"):
        build_data(DataConfig(name="fashion-mnist"), seed=0)


def test_real_mnist_and_fashion(real_data_root):
    for name in ("mnist", "fashion_mnist"):
        images, labels = load_idx_set(name, "train", root=real_data_root, download=False)
        assert images.shape == (60000, 1, 28, 28) and labels.bincount().min() > 5000
        test_images, test_labels = load_idx_set(name, "test", root=real_data_root, download=False)
        assert test_images.shape == (10000, 1, 28, 28) and test_labels.bincount().min() > 800
    images, labels = load_idx_set("mnist", "train", root=real_data_root, download=False)
    assert 30 < images.float().mean() < 36  # MNIST's mean pixel is 33.3
    assert labels[:5].tolist() == [5, 0, 4, 1, 9]  # the famous first digits
