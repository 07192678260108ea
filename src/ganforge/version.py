"""The package version, in a module of its own so that any floor can read it without importing the API, and
the git commit of the source checkout it runs from (runs record it next to the version)."""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path

__version__ = "0.1.0"


@functools.lru_cache(maxsize=1)
def source_commit() -> str:
    """The commit of the git checkout this package is imported from, "+dirty" when tracked files differ from
    it; "" for an installed wheel (or where git is missing)."""
    package = Path(__file__).resolve().parent
    git = lambda *args: subprocess.run(["git", *args], cwd=package, capture_output=True, text=True,  # noqa: E731
                                       timeout=10, check=True).stdout.strip()
    try:
        top = Path(git("rev-parse", "--show-toplevel")).resolve()
        if top / "src" / "ganforge" != package:  # a wheel installed inside someone else's repository
            return ""
        dirty = git("status", "--porcelain", "--untracked-files=no")
        return git("rev-parse", "HEAD") + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return ""
