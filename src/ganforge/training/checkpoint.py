"""Checkpoints you can trust: atomic writes, the previous good file kept, fallback and one-line errors on load.

A checkpoint is a plain dict of tensors and Python values (loadable with
``torch.load(weights_only=True)``): G, D, optimizer states, step, data position, all RNG
states, the config and the package version.

Writing ``last.pt`` never leaves a moment without a loadable ``last.pt`` on disk: the new state
goes to a uniquely named temp file (fsync), the current ``last.pt`` is hard-linked (or copied)
to ``last.prev.pt``, and the temp file is renamed over ``last.pt``. SIGINT/SIGTERM are held back
while a checkpoint is written, so a second Ctrl-C cannot cut a save in half; ``kill -9`` at any
moment leaves ``last.pt`` (old or new) and at worst a stray ``.last.pt.*.tmp`` file. Loading a
run whose ``last.pt`` is missing or corrupt falls back to ``last.prev.pt`` with a one-line warning.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import shutil
import signal
import sys
import threading
import zipfile
from pathlib import Path

import torch

from ..version import __version__
from ..errors import GanforgeError
from ..files import write_atomic
from ..runs import previous_of

FORMAT = "ganforge-checkpoint-v1"
_LOAD_ERRORS = (RuntimeError, pickle.UnpicklingError, EOFError, zipfile.BadZipFile, ValueError, OSError,
                AttributeError, KeyError, IndexError, TypeError)


@contextlib.contextmanager
def signals_deferred():
    """Hold SIGINT/SIGTERM back (delivered when the block ends) in the main thread on POSIX."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "pthread_sigmask"):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _link_or_copy(src: Path, dst: Path) -> None:
    """Make ``dst`` a copy of ``src`` (a hard link where the file system allows), atomically."""
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    try:
        os.link(src, tmp)
    except OSError:
        shutil.copyfile(src, tmp)
    os.replace(tmp, dst)
    # rename() between two links of one file does nothing (POSIX): then tmp is still there
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()


def save_checkpoint(state: dict, path: str | Path, keep_previous: bool = True) -> Path:
    """Write ``state`` to ``path`` atomically; with ``keep_previous`` the file it replaces stays
    as ``<stem>.prev.pt``. SIGINT/SIGTERM wait until the write is complete."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {"format": FORMAT, "version": __version__, **state}
    keep = (lambda: _link_or_copy(path, previous_of(path))) if keep_previous and path.exists() else None
    with signals_deferred():
        write_atomic(path, lambda f: torch.save(state, f), durable=True, before_replace=keep)
    return path


def remove_stray_temps(directory: str | Path) -> None:
    """Delete temp files a killed writer left behind (call only while holding the run's lock)."""
    for tmp in Path(directory).glob(".*.tmp"):
        with contextlib.suppress(OSError):
            tmp.unlink()


def _read(path: Path, map_location) -> dict:
    """Load one file; a GanforgeError naming the file when it is missing, corrupt or foreign."""
    if not path.is_file():
        raise GanforgeError(f"checkpoint {path} not found")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except _LOAD_ERRORS as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise GanforgeError(f"corrupt or unreadable checkpoint {path} ({reason[:120]})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise GanforgeError(f"{path} is not a ganforge checkpoint (no '{FORMAT}' marker)")
    return state


def load_checkpoint(path: str | Path, map_location="cpu", fallback: bool = True) -> dict:
    """Load a ganforge checkpoint (a run directory means its ``checkpoints/last.pt``).

    When that file is missing or corrupt and ``<stem>.prev.pt`` beside it loads, the previous
    checkpoint is returned with a one-line warning; ``state["loaded_from"]`` names the file read
    and ``state["fell_back"]`` says whether the fallback was taken.
    """
    path = Path(path).expanduser()
    if path.is_dir():
        path = path / "checkpoints" / "last.pt"
    try:
        state = _read(path, map_location)
        return {**state, "loaded_from": str(path), "fell_back": False}
    except GanforgeError as exc:
        prev = previous_of(path)
        if not fallback or path.name.endswith(".prev.pt") or not prev.is_file():
            if not path.exists() and not prev.exists():
                raise GanforgeError(f"checkpoint {path} not found; give a run directory that has "
                                    "checkpoints/last.pt, or a checkpoint file") from None
            raise
        try:
            state = _read(prev, map_location)
        except GanforgeError as exc_prev:
            raise GanforgeError(f"{exc}; the previous checkpoint is no better: {exc_prev}") from None
        problem = "missing" if not path.exists() else "corrupt"
        print(f"warning: {path} is {problem}; using the previous checkpoint {prev.name} (step {state.get('step')})",
              file=sys.stderr)
        return {**state, "loaded_from": str(prev), "fell_back": True}
