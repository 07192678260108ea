"""MNIST and Fashion-MNIST from the standard IDX gzip files.

Files are looked up in ``<root>/<subdir>/`` where root is ``data.root``, else ``$GANFORGE_DATA``,
else the user cache (``~/.cache/ganforge``). Missing files are downloaded (several mirrors,
progress bar, md5 verified, written atomically); every file is md5-checked before use, so a
corrupt file is one clear line rather than garbage images.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import GanforgeError
from ..files import write_atomic


@dataclass(frozen=True)
class IdxSet:
    name: str
    subdir: str
    mirrors: tuple[str, ...]
    md5: dict  # file name -> md5
    classes: tuple[str, ...]


MNIST = IdxSet(
    name="mnist",
    subdir="mnist",
    mirrors=(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ),
    md5={
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    },
    classes=tuple(str(i) for i in range(10)),
)

FASHION_MNIST = IdxSet(
    name="fashion_mnist",
    subdir="fashion-mnist",
    mirrors=(
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/",
    ),
    md5={
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    },
    classes=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
)

IDX_SETS = {s.name: s for s in (MNIST, FASHION_MNIST)}


def default_root() -> Path:
    """$GANFORGE_DATA (which must exist: a typo never silently becomes a new folder), else the user cache."""
    env = os.environ.get("GANFORGE_DATA")
    if env:
        path = Path(env).expanduser()
        if not path.is_dir():
            raise GanforgeError(f"GANFORGE_DATA={env} is not a directory; fix the path (it should hold mnist/ "
                                "and fashion-mnist/) or unset it to use the user cache")
        return path
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "ganforge"


def md5sum(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def download_timeout() -> float:
    """Seconds to wait for a mirror to connect or to send the next bytes ($GANFORGE_DOWNLOAD_TIMEOUT, default 10)."""
    try:
        return max(0.1, float(os.environ.get("GANFORGE_DOWNLOAD_TIMEOUT", "10")))
    except ValueError:
        return 10.0


def _download(url: str, dest: Path, expected_md5: str, progress: bool = True) -> None:
    from tqdm import tqdm

    # a mirror that accepts the connection and then stays silent fails after one timeout
    with urllib.request.urlopen(url, timeout=download_timeout()) as resp:
        total = int(resp.headers.get("Content-Length") or 0) or None
        def write(out) -> None:
            md5 = hashlib.md5()
            with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name, leave=False, disable=not progress) as bar:
                for chunk in iter(lambda: resp.read(1 << 16), b""):
                    out.write(chunk)
                    md5.update(chunk)
                    bar.update(len(chunk))
            if md5.hexdigest() != expected_md5:
                raise ValueError(f"md5 {md5.hexdigest()} != expected {expected_md5}")

        write_atomic(dest, write)  # a download that is cut or does not match its md5 leaves no file behind


def ensure_file(spec: IdxSet, fname: str, root: Path, download: bool, progress: bool = True) -> Path:
    """Return the path of a verified IDX file, downloading it when allowed."""
    directory = root / spec.subdir
    path = directory / fname
    expected = spec.md5[fname]
    where = f"put the original {spec.name} files in {directory}/ (or set GANFORGE_DATA / data.root)"
    if path.exists():
        got = md5sum(path)
        if got != expected:
            raise GanforgeError(f"corrupt data file {path}: md5 {got}, expected {expected}; delete it and "
                                f"re-run to download again, or {where}")
        return path
    if not download:
        raise GanforgeError(f"missing data file {path} (md5 {expected}) and data.download=false; {where}")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GanforgeError(f"missing data file {path} and cannot create {directory} ({exc.strerror}); {where}") from None
    errors = []
    for mirror in spec.mirrors:
        host = urllib.parse.urlsplit(mirror).netloc or mirror
        print(f"downloading {fname} from {host} (timeout {download_timeout():g} s) ...", file=sys.stderr, flush=True)
        try:
            _download(mirror + fname, path, expected, progress)
            return path
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            errors.append(f"{host}: {reason}")
            print(f"  failed: {reason}", file=sys.stderr, flush=True)
    raise GanforgeError(f"could not download {fname} (md5 {expected}) from {len(spec.mirrors)} mirrors "
                        f"(offline?); {where}, or set data.download=false to only use local files. "
                        f"Last error: {errors[-1]}")


def read_idx(path: Path) -> np.ndarray:
    """Parse an IDX (gzip) file: big-endian header, magic 0x0801 (labels) or 0x0803 (images)."""
    try:
        with gzip.open(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as exc:
        raise GanforgeError(f"corrupt data file {path}: {exc}; delete it and download again") from None
    magic = int.from_bytes(data[0:4], "big")
    ndim = magic & 0xFF
    if magic >> 8 != 0x08 or ndim not in (1, 3):
        raise GanforgeError(f"corrupt data file {path}: bad IDX magic number {magic:#x}")
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    offset = 4 + 4 * ndim
    count = int(np.prod(dims))
    if len(data) - offset != count:
        raise GanforgeError(f"corrupt data file {path}: expected {count} bytes of data, found {len(data) - offset}")
    return np.frombuffer(data, dtype=np.uint8, offset=offset).reshape(dims)


def load_idx_set(name: str, split: str = "train", root: str | Path | None = None,
                 download: bool = True, progress: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Images (N x 1 x 28 x 28 uint8) and labels (N int64) of MNIST or Fashion-MNIST."""
    spec = IDX_SETS[name]
    if split not in ("train", "test"):
        raise GanforgeError(f"data.split must be 'train' or 'test', got '{split}'")
    root = Path(root).expanduser() if root else default_root()
    prefix = "train" if split == "train" else "t10k"
    images = read_idx(ensure_file(spec, f"{prefix}-images-idx3-ubyte.gz", root, download, progress))
    labels = read_idx(ensure_file(spec, f"{prefix}-labels-idx1-ubyte.gz", root, download, progress))
    if len(images) != len(labels):
        raise GanforgeError(f"{name} {split}: {len(images)} images but {len(labels)} labels; the files do not match")
    return torch.from_numpy(images.copy()).unsqueeze(1), torch.from_numpy(labels.astype(np.int64))
