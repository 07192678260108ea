"""Small file helpers every floor may use: the sha256 that checks shipped and user-given weight files, and
the one atomic write (temp file beside the target, then rename) that checkpoints, configs, caches,
downloads and classifier weights go through."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    with contextlib.suppress(OSError):
        os.fsync(fd)
    os.close(fd)


def write_atomic(path: str | Path, write: Callable[[BinaryIO], object], *, durable: bool = False,
                 before_replace: Callable[[], object] | None = None) -> Path:
    """Write ``path`` so that no reader ever sees it half written: ``write(f)`` fills a temp file in the
    same folder (``.NAME.*.tmp``), which is renamed over ``path``. An exception from ``write`` (say a
    checksum that does not match) removes the temp file and leaves ``path`` as it was. ``durable``:
    fsync the file and the folder (checkpoints); ``before_replace``: called after the write, just before
    the rename (a checkpoint keeps its previous file there). The file gets the mode a plain ``open``
    would give it (0o666 less the umask)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        if before_replace is not None:
            before_replace()
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if durable:
        _fsync_dir(path.parent)
    return path


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
