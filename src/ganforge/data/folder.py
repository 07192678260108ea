"""A folder of images (``data.name=folder data.path=DIR``) as one in-memory uint8 tensor.

Files with the extensions jpg, jpeg, png, webp and bmp are found recursively (sorted by relative
path; hidden files and folders are skipped). Each image is decoded with Pillow, converted to RGB
(grayscale, palette, RGBA and 16-bit images included; EXIF rotation is applied), centre-cropped to
a square of side min(width, height) and resized to ``size`` x ``size`` with bicubic filtering
(Pillow's antialiased ``Image.BICUBIC``). Unreadable files are skipped with one warning line.

The decoded array (all images, before the train/val split) is cached as ``.npy`` in
``DIR/.ganforge_cache/``, or, when DIR is not writable, in ``$GANFORGE_CACHE/folders/<id>/``
(default ``~/.cache/ganforge/folders/<id>/``). The cache file name holds a fingerprint of the
files' relative paths, sizes and modification times, so any change re-decodes the folder.

With ``data.labels`` (:mod:`.folder_labels`: class subfolders or a StyleGAN2-ADA dataset.json),
:func:`load_labelled_folder` also gives each image's class. The labels are read and checked before
anything is decoded, and follow the images through skipped files (a ``.kept.npy`` beside the cache
lists which files the cached array holds) and the split.

The "val" split ("test" is an alias) is a fixed fraction ``val_fraction`` of the images (or, given
a number >= 1, that many images: ``data.val_count``), the first of a permutation with its own seed (0),
independent of the training seed.
"""

from __future__ import annotations

import hashlib
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from ..errors import GanforgeError
from ..files import write_atomic

EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp")
SPLITS = ("train", "val", "test", "all")
CACHE_SUBDIR = ".ganforge_cache"
FORMAT_VERSION = 1  # bump when decoding changes, so that old caches are not reused
SPLIT_SEED = 0
_WORKERS = max(1, min(8, os.cpu_count() or 1))  # Pillow releases the GIL while decoding


def _folder(path) -> Path:
    """The image folder named by ``path`` (``~`` expanded, absolute), or a one-line error."""
    if path is None or not str(path).strip():
        raise GanforgeError("data.name=folder needs data.path=DIR (a folder of images)")
    folder = Path(os.path.abspath(Path(str(path)).expanduser()))
    if not folder.exists():
        raise GanforgeError(f"data.path={folder}: no such directory (it should be a folder of images)")
    if not folder.is_dir():
        raise GanforgeError(f"data.path={folder} is not a directory (it should be a folder of images)")
    return folder


def list_images(path) -> list[Path]:
    """The image files under ``path`` (recursive, sorted by relative path, hidden entries skipped).

    Raises :class:`GanforgeError` when ``path`` is not a directory or holds no image files.
    """
    root = _folder(path)
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if not name.startswith(".") and name.lower().endswith(EXTENSIONS):
                found.append(Path(dirpath, name))
    if not found:
        raise GanforgeError(f"no images (jpg/png/webp/bmp) found under {root}")
    return sorted(found, key=lambda f: f.relative_to(root).as_posix())


def folder_fingerprint(files: list[Path], root, size: int) -> str:
    """sha1 (hex) of the files' (relative path, byte size, mtime_ns), the image size and the format."""
    h = hashlib.sha1(f"ganforge-folder v{FORMAT_VERSION} size={int(size)}\n".encode())
    root = Path(root)
    for f in sorted(files, key=lambda f: f.relative_to(root).as_posix()):
        st = f.stat()
        h.update(f"{f.relative_to(root).as_posix()}\t{st.st_size}\t{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def folder_id(path, size: int) -> str:
    """A short hex id of a folder's current image files at ``size`` (e.g. to key cached statistics)."""
    files = list_images(path)
    return folder_fingerprint(files, _folder(path), size)[:16]


def label_names(path, labels: str) -> tuple[str, ...]:
    """The class names of ``data.labels`` = ``labels`` for the folder ``path``, no image listed or decoded."""
    from .folder_labels import class_names

    return class_names(_folder(path), labels)


def labels_key(path, labels: str) -> str:
    """A short key of a folder's labels ("" when unlabelled), for cached statistics."""
    from .folder_labels import labels_key as key_of

    return key_of(_folder(path), labels)


def _user_cache_dir(root: Path) -> Path:
    env = os.environ.get("GANFORGE_CACHE")
    if env:
        base = Path(env).expanduser()
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")) / "ganforge"
    return base / "folders" / hashlib.sha1(str(root).encode()).hexdigest()[:16]


def _cache_dirs(root: Path) -> list[Path]:
    """Where the cache may live, in order of preference: inside the folder, then the user cache."""
    return [root / CACHE_SUBDIR, _user_cache_dir(root)]


def _prepare_cache_dir(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def _read_cache(path: Path, size: int, max_n: int) -> np.ndarray | None:
    try:
        arr = np.load(path, allow_pickle=False)
    except Exception:  # missing, truncated or not an .npy file: rebuild it
        return None
    if arr.dtype != np.uint8 or arr.ndim != 4 or arr.shape[1:] != (3, size, size) or not 1 <= len(arr) <= max_n:
        return None
    return arr


def _write_cache(arr: np.ndarray, root: Path, fname: str, size: int) -> Path | None:
    """Write atomically to the first writable cache dir, removing stale caches of this size there."""
    errors = []
    for directory in _cache_dirs(root):
        try:
            directory = _prepare_cache_dir(directory)
            write_atomic(directory / fname, lambda f: np.save(f, arr))
        except OSError as exc:
            errors.append(f"{directory}: {exc.strerror or exc}")
            continue
        for old in directory.glob(f"folder_{size}px_*.npy"):
            if old.name.split(".")[0] != fname.split(".")[0]:  # another fingerprint (a .kept.npy goes with its array)
                try:
                    old.unlink()
                except OSError:
                    pass
        return directory / fname
    print(f"warning: could not cache the decoded images ({'; '.join(errors)})", file=sys.stderr)
    return None


def _to_rgb(img):
    from PIL import Image, ImageOps

    img = ImageOps.exif_transpose(img)
    if img.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N"):  # 16-bit grayscale: keep the top 8 bits
        img = Image.fromarray((np.asarray(img, dtype=np.int64) >> 8).clip(0, 255).astype(np.uint8))
    elif img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    return img.convert("RGB")


def _decode(path: Path, size: int) -> np.ndarray | None:
    """One image as 3 x size x size uint8 (centre square, bicubic), or None when unreadable."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            img.draft("RGB", (size, size))  # JPEG: decode at a reduced scale that still covers size
            img.load()  # inside the try, so that truncated files surface here
            img = _to_rgb(img)
            w, h = img.size
            s = min(w, h)
            left, top = (w - s) // 2, (h - s) // 2
            img = img.resize((size, size), Image.BICUBIC, box=(left, top, left + s, top + s))
            return np.asarray(img, dtype=np.uint8).transpose(2, 0, 1)
    except Exception:
        return None


def _decode_all(files: list[Path], root: Path, size: int, progress: bool) -> tuple[np.ndarray, np.ndarray]:
    """(decoded images, the index in ``files`` of each of them: unreadable files are left out)."""
    from tqdm import tqdm

    out = np.empty((len(files), 3, size, size), np.uint8)
    kept = np.empty(len(files), np.int64)
    n, skipped = 0, []
    with ThreadPoolExecutor(_WORKERS) as pool:
        results = pool.map(lambda f: _decode(f, size), files)
        for f, arr in tqdm(zip(files, results), total=len(files), desc=f"decoding {len(files)} images",
                           unit="img", disable=not progress, leave=False):
            if arr is None:
                skipped.append(f.relative_to(root).as_posix())
            else:
                out[n] = arr
                kept[n] = len(skipped) + n
                n += 1
    if n == 0:
        raise GanforgeError(f"none of the {len(files)} image files under {root} could be read "
                            f"(e.g. {', '.join(skipped[:3])}); are they valid images?")
    if skipped:
        print(f"warning: skipped {len(skipped)} unreadable image(s) under {root}, e.g. {', '.join(skipped[:3])}",
              file=sys.stderr)
    return (out[:n] if n < len(files) else out), kept[:n]


def split_indices(n: int, split: str, val_fraction: float) -> np.ndarray:
    """Sorted indices of ``split`` among ``n`` images (a fixed permutation, seed 0); ``val_fraction``
    >= 1 is a count of held-out images (``data.val_count``)."""
    if split == "all":
        return np.arange(n)
    n_val = int(val_fraction) if val_fraction >= 1 else int(round(n * val_fraction))
    if val_fraction > 0 and n_val == 0 and n >= 2:
        n_val = 1
    perm = np.random.default_rng(SPLIT_SEED).permutation(n)
    idx = np.sort(perm[:n_val] if split in ("val", "test") else perm[n_val:])
    if len(idx) == 0 or n_val >= n:
        key = f"data.val_count={n_val}" if val_fraction >= 1 else f"data.val_fraction={val_fraction}"
        raise GanforgeError(f"data.split={split} is empty: {n} image(s) with {key} "
                            f"leave {max(n - n_val, 0)} for train and {min(n_val, n)} for val")
    return idx


def _check_args(size, split: str, val_fraction) -> None:
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 8:
        raise GanforgeError(f"data.size must be an integer >= 8, got {size!r}")
    if split not in SPLITS:
        raise GanforgeError(f"data.split must be one of {', '.join(SPLITS)} for data.name=folder, got '{split}'")
    if isinstance(val_fraction, bool) or not isinstance(val_fraction, (int, float)) or val_fraction < 0 or (
            1 < val_fraction != int(val_fraction)):
        raise GanforgeError(f"data.val_fraction must be in [0, 1) (or a whole count, data.val_count), got {val_fraction!r}")
    if split in ("val", "test") and val_fraction == 0:
        raise GanforgeError(f"data.split={split} needs data.val_fraction > 0 (e.g. data.val_fraction=0.05)")


def _read_kept(path: Path, n: int, n_files: int) -> np.ndarray | None:
    """The file index of each of a cached array's ``n`` images, or None when the file is missing or wrong."""
    try:
        kept = np.load(path, allow_pickle=False)
    except Exception:
        return None
    ok = (kept.dtype == np.int64 and kept.shape == (n,) and (n == 0 or (kept[0] >= 0 and kept[-1] < n_files))
          and bool(np.all(np.diff(kept) > 0)))
    return kept if ok else None


def _decoded(files: list[Path], root: Path, size: int, cache: bool, progress: bool,
             need_kept: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """(decoded images of ``files``, the file index of each image or None): from the cache when it is
    there (and, with ``need_kept``, knows which files it holds), else decoded and cached."""
    fname = f"folder_{size}px_{folder_fingerprint(files, root, size)[:20]}.npy"
    kept_name = fname.replace(".npy", ".kept.npy")
    arr = kept = None
    if cache:
        for directory in _cache_dirs(root):
            arr = _read_cache(directory / fname, size, len(files))
            if arr is not None and need_kept and len(arr) < len(files):
                kept = _read_kept(directory / kept_name, len(arr), len(files))
                arr = arr if kept is not None else None  # which files were skipped is unknown: decode again
            if arr is not None:
                break
    if arr is None:
        arr, kept = _decode_all(files, root, size, progress)
        if cache:
            where = _write_cache(arr, root, fname, size)
            if where is not None and need_kept and len(arr) < len(files):
                _write_cache(kept, root, kept_name, size)
    if need_kept and kept is None:
        kept = np.arange(len(arr))
    return arr, (kept if need_kept else None)


def load_folder(path, size: int = 64, split: str = "train", val_fraction: float = 0.0, cache: bool = True,
                progress: bool = True) -> torch.Tensor:
    """The images of a folder's ``split`` as an N x 3 x size x size uint8 tensor (file order)."""
    _check_args(size, split, val_fraction)
    arr, _ = _decoded(list_images(path), _folder(path), int(size), cache, progress, need_kept=False)
    idx = split_indices(len(arr), split, float(val_fraction))
    if len(idx) < len(arr):
        arr = arr[idx]
    return torch.from_numpy(np.ascontiguousarray(arr))


def load_labelled_folder(path, size: int = 64, split: str = "train", val_fraction: float = 0.0,
                         labels: str = "folders", cache: bool = True,
                         progress: bool = True) -> tuple[torch.Tensor, torch.Tensor, tuple[str, ...]]:
    """(images as :func:`load_folder` gives them, their int64 labels, the class names) by ``data.labels``
    = ``labels`` ("folders" or a dataset.json). The labels are checked before any image is decoded."""
    from .folder_labels import read_labels

    _check_args(size, split, val_fraction)
    files, root = list_images(path), _folder(path)
    found = read_labels(root, files, labels)
    arr, kept = _decoded(files, root, int(size), cache, progress, need_kept=True)
    y = found.labels[kept]
    idx = split_indices(len(arr), split, float(val_fraction))
    if len(idx) < len(arr):
        arr, y = arr[idx], y[idx]
    return torch.from_numpy(np.ascontiguousarray(arr)), torch.from_numpy(y), found.class_names
