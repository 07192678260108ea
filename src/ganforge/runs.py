"""The run directory: the contract between training, evaluation and users, in one screen.

```
runs/<name>/config.toml                 fully resolved config (seed, package version)
runs/<name>/metrics.jsonl               one JSON object per logged step (and per evaluation)
runs/<name>/samples/step_NNNNNN.png     fixed-noise grids (scatter plots for toy data)
runs/<name>/checkpoints/last.pt         full state; last.prev.pt is the one before it
runs/<name>/checkpoints/best.pt         + best.json: lowest periodic FID so far
runs/<name>/checkpoints/step_N.pt       kept by log.keep_every
runs/<name>/tensorboard/                with the `tb` extra
runs/<name>/eval.json                   the last `ganforge eval` of the run
runs/<name>/training.gif, losses.png    `ganforge report`
runs/<name>/.lock                       held (fcntl) by the process training into the run
```

Every module that reads or writes one of these paths asks :class:`RunDir` for it. A checkpoint
file given where a run is expected (``RUN/checkpoints/last.prev.pt``) resolves to its run. Paths
only: reading a checkpoint is :mod:`ganforge.training.checkpoint`, a run's checked config
:func:`ganforge.choices.load_run_config`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from .errors import GanforgeError
from .files import write_atomic

try:  # advisory locks: POSIX only (elsewhere a run is not protected against a second writer)
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None


def previous_of(checkpoint: str | Path) -> Path:
    """``last.pt`` -> ``last.prev.pt``: the checkpoint before the newest one."""
    checkpoint = Path(checkpoint)
    return checkpoint.with_name(checkpoint.stem + ".prev" + checkpoint.suffix)


class RunDir:
    """Names every path of one run directory."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    def __str__(self) -> str:
        return str(self.path)

    def __fspath__(self) -> str:
        return str(self.path)

    # ---------------------------------------------------------------- files
    @property
    def config(self) -> Path:
        return self.path / "config.toml"

    @property
    def metrics(self) -> Path:
        return self.path / "metrics.jsonl"

    @property
    def samples(self) -> Path:
        return self.path / "samples"

    def sample_grid(self, step: int) -> Path:
        return self.samples / f"step_{step:06d}.png"

    def sample_grids(self) -> list[Path]:
        return sorted(self.samples.glob("step_*.png"))

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def last(self) -> Path:
        return self.checkpoints / "last.pt"

    @property
    def prev(self) -> Path:
        return previous_of(self.last)

    @property
    def best(self) -> Path:
        return self.checkpoints / "best.pt"

    @property
    def best_json(self) -> Path:
        return self.checkpoints / "best.json"

    def step_checkpoint(self, step: int) -> Path:
        return self.checkpoints / f"step_{step}.pt"

    @property
    def tensorboard(self) -> Path:
        return self.path / "tensorboard"

    @property
    def eval_json(self) -> Path:
        return self.path / "eval.json"

    @property
    def gif(self) -> Path:
        return self.path / "training.gif"

    @property
    def losses_png(self) -> Path:
        return self.path / "losses.png"

    @property
    def lock_file(self) -> Path:
        return self.path / ".lock"

    def has_checkpoint(self) -> bool:
        return self.last.exists() or self.prev.exists()


def resolve(source: str | Path) -> tuple[RunDir, Path | None]:
    """A run directory or a checkpoint file -> (its run, the file asked for or None for the default).

    ``RUN/checkpoints/X.pt`` belongs to ``RUN``; any other ``.pt`` file is treated as its own
    run living in the file's folder.
    """
    p = Path(source).expanduser()
    if p.is_dir():
        return RunDir(p), None
    if p.suffix == ".pt" or p.is_file():
        parent = p.parent
        run = parent.parent if parent.name == "checkpoints" else parent
        return RunDir(run), p
    if not p.exists():
        raise GanforgeError(f"run '{source}' not found; give a run directory (runs/<name>) or a checkpoint file")
    raise GanforgeError(f"'{source}' is neither a run directory nor a checkpoint file")


# -------------------------------------------------------------------- claiming a directory
def claim_new(out_dir: str | Path, name: str) -> RunDir:
    """``out_dir/name``, or ``name-2``, ``name-3``… when taken, claimed atomically with ``mkdir``
    so two trainings started at once never share a directory."""
    base = Path(out_dir) / name
    base.parent.mkdir(parents=True, exist_ok=True)
    i = 1
    while True:
        path = base if i == 1 else base.with_name(f"{base.name}-{i}")
        try:
            path.mkdir()
            return RunDir(path)
        except FileExistsError:
            i += 1


def claim_given(path: str | Path) -> RunDir:
    """A directory the user named with ``--run-dir``: created when missing, refused when it
    already holds a run."""
    run = RunDir(path)
    if run.path.exists() and not run.path.is_dir():
        raise GanforgeError(f"--run-dir {run} is a file, not a directory; pick another --run-dir")
    if run.has_checkpoint():
        raise GanforgeError(f"{run} already holds a run; resume it with --resume {quote(run)} or pick another --run-dir")
    run.path.mkdir(parents=True, exist_ok=True)
    return run


class RunLock:
    """An advisory lock on ``RUN/.lock`` held for a training's life; the OS drops it when the
    process dies (even by ``kill -9``), so a stale file never blocks a later run."""

    def __init__(self, run: RunDir):
        self.run = run
        self.fd: int | None = None

    def acquire(self) -> "RunLock":
        if fcntl is None:  # pragma: no cover
            return self
        fd = os.open(self.run.lock_file, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            try:
                pid = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            finally:
                os.close(fd)
            raise GanforgeError(f"{self.run} is in use by another ganforge process (PID {pid}); wait for it "
                                f"to finish or stop it, or train into another --run-dir") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self.fd = fd
        return self

    def release(self) -> None:
        if self.fd is not None:
            try:
                os.ftruncate(self.fd, 0)
            except OSError:
                pass
            os.close(self.fd)  # closing the descriptor releases the flock
            self.fd = None

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


# -------------------------------------------------------------------- the resolved config
def write_config(cfg, run: RunDir) -> None:
    from .version import __version__, source_commit
    from .config import to_dict, to_toml

    cfg.ganforge_version = __version__
    cfg.ganforge_commit = source_commit()
    text = (to_toml(to_dict(cfg)) + "\n").encode()
    write_atomic(run.config, lambda f: f.write(text))


def quote(path) -> str:
    """A path as the shell reads it (for the commands ganforge prints)."""
    import shlex

    return shlex.quote(str(path))


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)
