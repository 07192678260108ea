"""data.name=folder: a folder of images, decoded once, cached as .npy, split into train/val."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw, features

from ganforge.config import DataConfig
from ganforge.data import build_data, data_info
from ganforge.data import folder as folder_mod
from ganforge.data.folder import folder_fingerprint, folder_id, list_images, load_folder, split_indices
from ganforge.errors import GanforgeError

WEBP = "webp" if features.check("webp") else "png"

# relative path, (width, height), background, foreground, shape
SPECS = [
    ("a/red_ellipse.png", (40, 30), (255, 255, 255), (255, 0, 0), "ellipse"),
    ("a/b/green_rect.jpg", (30, 50), (0, 0, 0), (0, 255, 0), "rect"),
    ("a/b/blue.bmp", (64, 64), (200, 200, 200), (0, 0, 255), "ellipse"),
    ("c/yellow.PNG", (50, 50), (0, 0, 80), (255, 255, 0), "rect"),
    ("c/d/e/magenta.jpeg", (70, 20), (20, 20, 20), (255, 0, 255), "ellipse"),
    ("cyan.png", (33, 47), (90, 0, 0), (0, 255, 255), "rect"),
    ("top.JPG", (64, 48), (255, 255, 255), (30, 30, 200), "ellipse"),
    ("x/orange.bmp", (25, 25), (0, 60, 0), (255, 128, 0), "rect"),
    ("x/purple.png", (100, 60), (240, 240, 0), (128, 0, 128), "ellipse"),
    (f"x/y/teal.{WEBP}", (48, 36), (10, 10, 60), (0, 128, 128), "rect"),
]


def make_images(root: Path) -> int:
    """12 small images in nested folders (+ a .txt and a hidden folder that must be ignored)."""
    for rel, (w, h), bg, fg, shape in SPECS:
        img = Image.new("RGB", (w, h), bg)
        draw = ImageDraw.Draw(img)
        box = (w // 4, h // 4, 3 * w // 4, 3 * h // 4)
        (draw.ellipse if shape == "ellipse" else draw.rectangle)(box, fill=fg)
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        img.save(root / rel, quality=95) if rel.lower().endswith(("jpg", "jpeg")) else img.save(root / rel)
    gray = Image.new("L", (40, 40), 70)
    ImageDraw.Draw(gray).rectangle((10, 10, 30, 30), fill=180)
    (root / "gray").mkdir()
    gray.save(root / "gray" / "gray.png")
    rgba = Image.new("RGBA", (36, 36), (0, 200, 0, 255))
    ImageDraw.Draw(rgba).ellipse((5, 5, 30, 30), fill=(250, 10, 10, 128))
    rgba.save(root / "gray" / "rgba.png")
    (root / "notes.txt").write_text("not an image")
    (root / ".hidden").mkdir()
    Image.new("RGB", (20, 20)).save(root / ".hidden" / "skip.png")
    return len(SPECS) + 2


@pytest.fixture
def imgdir(tmp_path) -> Path:
    root = tmp_path / "imgs"
    root.mkdir()
    make_images(root)
    return root


def _hashes(t: torch.Tensor) -> list[str]:
    return [hashlib.sha1(x.numpy().tobytes()).hexdigest() for x in t]


def _break_pil(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("decoding must not happen")

    monkeypatch.setattr(Image, "open", broken)


def test_shape_dtype_and_file_order(imgdir):
    x = load_folder(imgdir, size=32, progress=False)
    assert x.shape == (12, 3, 32, 32) and x.dtype == torch.uint8
    files = list_images(imgdir)
    rels = [f.relative_to(imgdir).as_posix() for f in files]
    assert rels == sorted(rels) and len(rels) == 12 and "notes.txt" not in rels
    assert not any(r.startswith(".") for r in rels)
    for i, f in enumerate(files):  # row i is file i
        assert torch.equal(x[i], torch.from_numpy(folder_mod._decode(f, 32).copy()))
    assert torch.equal(x, load_folder(imgdir, size=32, progress=False, cache=False))
    assert len(set(_hashes(x))) == 12


def test_centre_crop_then_resize(tmp_path):
    img = Image.new("RGB", (60, 30), (0, 0, 255))
    ImageDraw.Draw(img).rectangle((15, 0, 44, 29), fill=(255, 0, 0))
    img.save(tmp_path / "wide.png")
    x = load_folder(tmp_path, size=16, cache=False, progress=False)[0].float()
    assert x[2].mean() < 20  # blue margins cropped away
    centre = x[:, 3:13, 3:13]
    assert centre[0].mean() > 245 and centre[1].mean() < 10 and centre[2].mean() < 10
    tall = Image.new("RGB", (20, 80), (0, 0, 255))
    ImageDraw.Draw(tall).rectangle((0, 30, 19, 49), fill=(0, 255, 0))
    (tmp_path / "wide.png").unlink()
    tall.save(tmp_path / "tall.bmp")
    y = load_folder(tmp_path, size=8, cache=False, progress=False)[0].float()
    assert y[1, 2:6, 2:6].mean() > 245 and y[2].mean() < 20


def test_grayscale_and_rgba_become_rgb(imgdir):
    files = [f.relative_to(imgdir).as_posix() for f in list_images(imgdir)]
    x = load_folder(imgdir, size=32, progress=False)
    g = x[files.index("gray/gray.png")]
    assert torch.equal(g[0], g[1]) and torch.equal(g[1], g[2])
    assert int(g[0, 0, 0]) == 70 and int(g[0, 16, 16]) == 180
    a = x[files.index("gray/rgba.png")]
    assert tuple(a[:, 0, 0].tolist()) == (0, 200, 0)
    assert tuple(a[:, 16, 16].tolist()) == (250, 10, 10)


def test_cache_is_written_and_reused(imgdir, monkeypatch):
    first = load_folder(imgdir, size=32, progress=False)
    cached = list((imgdir / ".ganforge_cache").glob("*.npy"))
    assert len(cached) == 1 and "32" in cached[0].name
    arr = np.load(cached[0])
    assert arr.dtype == np.uint8 and arr.shape == (12, 3, 32, 32)
    with monkeypatch.context() as m:
        _break_pil(m)
        assert torch.equal(load_folder(imgdir, size=32, progress=False), first)
        with pytest.raises(GanforgeError, match="none of the 12 image files"):
            load_folder(imgdir, size=16, progress=False)  # another size is not cached
    load_folder(imgdir, size=16, progress=False)
    assert len(list((imgdir / ".ganforge_cache").glob("*.npy"))) == 2  # one per size


def test_cache_invalidated_by_added_or_modified_files(imgdir):
    first = load_folder(imgdir, size=32, progress=False)
    Image.new("RGB", (30, 30), (1, 2, 3)).save(imgdir / "a" / "new.png")
    second = load_folder(imgdir, size=32, progress=False)
    assert len(second) == 13
    assert len(list((imgdir / ".ganforge_cache").glob("folder_32px_*.npy"))) == 1  # stale one removed
    target = imgdir / "cyan.png"
    idx = [f.name for f in list_images(imgdir)].index("cyan.png")
    Image.new("RGB", (33, 47), (9, 99, 199)).save(target)
    st = target.stat()
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    third = load_folder(imgdir, size=32, progress=False)
    assert tuple(third[idx, :, 5, 5].tolist()) == (9, 99, 199)
    assert not torch.equal(third[idx], second[idx])
    (imgdir / "a" / "new.png").unlink()
    assert len(load_folder(imgdir, size=32, progress=False)) == 12
    assert len(first) == 12


def test_fingerprint_and_folder_id(imgdir):
    files = list_images(imgdir)
    fp = folder_fingerprint(files, imgdir, 32)
    assert fp == folder_fingerprint(list(reversed(files)), imgdir, 32)
    assert fp != folder_fingerprint(files, imgdir, 64)
    fid = folder_id(imgdir, 32)
    assert fid == fp[:16] and all(c in "0123456789abcdef" for c in fid)
    (imgdir / "x" / "orange.bmp").unlink()
    assert folder_id(imgdir, 32) != fid


def test_cache_false_writes_nothing(imgdir, monkeypatch):
    monkeypatch.setenv("GANFORGE_CACHE", str(imgdir.parent / "usercache"))
    load_folder(imgdir, size=32, cache=False, progress=False)
    assert not (imgdir / ".ganforge_cache").exists()
    assert not (imgdir.parent / "usercache").exists()


def test_corrupt_cache_is_rebuilt(imgdir):
    first = load_folder(imgdir, size=32, progress=False)
    (cached,) = (imgdir / ".ganforge_cache").glob("*.npy")
    cached.write_bytes(b"garbage")
    assert torch.equal(load_folder(imgdir, size=32, progress=False), first)
    np.save(cached, np.zeros((12, 3, 16, 16), np.uint8))  # wrong shape
    assert torch.equal(load_folder(imgdir, size=32, progress=False), first)
    assert np.load(cached).shape == (12, 3, 32, 32)


def test_unwritable_folder_falls_back_to_user_cache(imgdir, monkeypatch):
    user = imgdir.parent / "usercache"
    monkeypatch.setenv("GANFORGE_CACHE", str(user))
    real = folder_mod._prepare_cache_dir

    def prepare(directory: Path) -> Path:
        if imgdir in Path(directory).parents:
            raise PermissionError(13, "Permission denied", str(directory))
        return real(directory)

    monkeypatch.setattr(folder_mod, "_prepare_cache_dir", prepare)
    first = load_folder(imgdir, size=32, progress=False)
    assert not (imgdir / ".ganforge_cache").exists()
    cached = list(user.rglob("*.npy"))
    assert len(cached) == 1 and cached[0].parent.parent == user / "folders"
    _break_pil(monkeypatch)
    assert torch.equal(load_folder(imgdir, size=32, progress=False), first)


def test_nothing_writable_warns_but_loads(imgdir, monkeypatch, capsys):
    def prepare(directory):
        raise PermissionError(13, "Permission denied", str(directory))

    monkeypatch.setattr(folder_mod, "_prepare_cache_dir", prepare)
    assert len(load_folder(imgdir, size=16, progress=False)) == 12
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("warning: could not cache")


def test_unreadable_files_are_skipped_with_one_warning(imgdir, capsys):
    (imgdir / "bad.png").write_bytes(np.random.default_rng(0).integers(0, 256, 500, dtype=np.uint8).tobytes())
    noise = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(noise).save(imgdir / "a" / "trunc.jpg", quality=95)
    data = (imgdir / "a" / "trunc.jpg").read_bytes()
    (imgdir / "a" / "trunc.jpg").write_bytes(data[: len(data) // 2])
    x = load_folder(imgdir, size=32, progress=False)
    assert len(x) == 12
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1
    assert err[0].startswith("warning: skipped 2 unreadable image(s) under")
    assert "bad.png" in err[0] and "a/trunc.jpg" in err[0]
    assert torch.equal(load_folder(imgdir, size=32, progress=False), x)  # cached


def test_all_unreadable_is_one_line_error(tmp_path):
    for i in range(3):
        (tmp_path / f"bad{i}.jpg").write_bytes(b"not a jpeg at all")
    with pytest.raises(GanforgeError) as e:
        load_folder(tmp_path, size=16, progress=False)
    assert "none of the 3 image files" in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("case", ["missing", "empty", "txt_only", "no_path", "a_file", "bad_split", "val_no_fraction",
                                  "fraction_too_big", "size_too_small", "size_not_int"])
def test_errors_are_one_line(tmp_path, imgdir, case):
    (tmp_path / "empty").mkdir()
    (tmp_path / "txt").mkdir()
    (tmp_path / "txt" / "readme.txt").write_text("hi")
    (tmp_path / "file.png").write_bytes(b"x")
    kwargs = {
        "missing": dict(path=tmp_path / "nope"),
        "empty": dict(path=tmp_path / "empty"),
        "txt_only": dict(path=tmp_path / "txt"),
        "no_path": dict(path=""),
        "a_file": dict(path=tmp_path / "file.png"),
        "bad_split": dict(path=imgdir, split="validation"),
        "val_no_fraction": dict(path=imgdir, split="val"),
        "fraction_too_big": dict(path=imgdir, val_fraction=1.5),
        "size_too_small": dict(path=imgdir, size=4),
        "size_not_int": dict(path=imgdir, size=32.5),
    }[case]
    expected = {
        "missing": "nope", "empty": "no images (jpg/png/webp/bmp) found under", "txt_only": "no images",
        "no_path": "data.name=folder needs data.path=DIR", "a_file": "not a directory",
        "bad_split": "train, val, test, all", "val_no_fraction": "data.val_fraction > 0",
        "fraction_too_big": "[0, 1)", "size_too_small": ">= 8", "size_not_int": ">= 8",
    }[case]
    with pytest.raises(GanforgeError) as e:
        load_folder(progress=False, **kwargs)
    assert expected in str(e.value) and "\n" not in str(e.value)
    assert not (imgdir / ".ganforge_cache").exists()  # argument errors come before any decoding


def test_tilde_is_expanded(imgdir, monkeypatch):
    monkeypatch.setenv("HOME", str(imgdir.parent))
    assert len(load_folder("~/imgs", size=16, progress=False)) == 12


def test_train_val_split(imgdir):
    kw = dict(size=16, val_fraction=0.25, progress=False)
    everything = load_folder(imgdir, split="all", **kw)
    train = load_folder(imgdir, split="train", **kw)
    val = load_folder(imgdir, split="val", **kw)
    assert len(everything) == 12 and len(train) == 9 and len(val) == 3
    all_h, train_h, val_h = _hashes(everything), _hashes(train), _hashes(val)
    assert not set(train_h) & set(val_h) and set(train_h) | set(val_h) == set(all_h)
    assert [h for h in all_h if h in train_h] == train_h  # file order kept
    assert torch.equal(load_folder(imgdir, split="val", **kw), val)
    assert torch.equal(load_folder(imgdir, split="test", **kw), val)
    assert torch.equal(load_folder(imgdir, size=16, progress=False), everything)  # val_fraction 0: train = all
    assert len(load_folder(imgdir, split="val", size=16, val_fraction=0.01, progress=False)) == 1


def test_training_data_leaves_out_a_held_out_count(imgdir):
    """data.val_count holds images out of training as data.val_fraction does (evaluation compares with them)."""
    dcfg = DataConfig(name="folder", path=str(imgdir), size=16, batch_size=4, val_count=3)
    source = build_data(dcfg, seed=0, progress=False)
    val = load_folder(imgdir, size=16, split="val", val_fraction=3, progress=False)
    assert len(source.images) == 9 and not set(_hashes(source.images)) & set(_hashes(val))


def test_split_indices():
    for n, frac in [(12, 0.25), (100, 0.1), (7, 0.5), (2, 0.01)]:
        tr, va = split_indices(n, "train", frac), split_indices(n, "val", frac)
        assert len(tr) + len(va) == n and not set(tr) & set(va) and len(va) >= 1
        assert list(tr) == sorted(tr) and np.array_equal(va, split_indices(n, "test", frac))
    assert np.array_equal(split_indices(5, "all", 0.5), np.arange(5))
    with pytest.raises(GanforgeError, match="data.split=train is empty"):
        split_indices(4, "train", 0.9)
    with pytest.raises(GanforgeError, match="data.split=val is empty"):
        split_indices(1, "val", 0.2)


def test_through_the_registry(imgdir):
    dcfg = DataConfig(name="folder", path=str(imgdir), size=32, batch_size=4)
    assert data_info(dcfg).shape == (3, 32, 32)
    source = build_data(dcfg, seed=0)
    x, y = source.next()
    assert y is None and x.shape == (4, 3, 32, 32) and x.dtype == torch.float32
    assert x.min() >= -1 and x.max() <= 1 and x.max() > 0.9
    assert source.batches_per_epoch == 3
