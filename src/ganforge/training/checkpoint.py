"""Checkpoints you can trust: atomic writes, the previous good file kept, one-line errors on load.

A checkpoint is a plain dict of tensors and Python values (loadable with
``torch.load(weights_only=True)``): G, D, optimizer states, step, data position, all RNG
states, the config and the package version.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path

import torch

from .. import __version__
from ..errors import GanforgeError

FORMAT = "ganforge-checkpoint-v1"


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save_checkpoint(state: dict, path: str | Path, keep_previous: bool = True) -> Path:
    """Write ``state`` to ``path`` atomically (temp file, fsync, rename).

    When ``keep_previous`` and ``path`` exists, the old file becomes ``<stem>.prev.pt`` first,
    so a good checkpoint is on disk at every moment.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {"format": FORMAT, "version": __version__, **state}
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        torch.save(state, f)
        f.flush()
        os.fsync(f.fileno())
    if keep_previous and path.exists():
        os.replace(path, path.with_name(path.stem + ".prev" + path.suffix))
    os.replace(tmp, path)
    _fsync_dir(path.parent)
    return path


def load_checkpoint(path: str | Path, map_location="cpu") -> dict:
    """Load a ganforge checkpoint; a missing, corrupt or foreign file is a one-line GanforgeError."""
    path = Path(path)
    if path.is_dir():
        path = path / "checkpoints" / "last.pt"
    if not path.is_file():
        raise GanforgeError(f"checkpoint {path} not found; give a run directory that has checkpoints/last.pt")
    prev = path.with_name(path.stem + ".prev" + path.suffix)
    hint = f"; the previous checkpoint {prev} may still be good" if prev.is_file() and prev != path else ""
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, EOFError, zipfile.BadZipFile, ValueError, OSError,
            AttributeError, KeyError, IndexError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise GanforgeError(f"corrupt or unreadable checkpoint {path} ({reason[:120]}){hint}") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise GanforgeError(f"{path} is not a ganforge checkpoint (no '{FORMAT}' marker){hint}")
    return state
