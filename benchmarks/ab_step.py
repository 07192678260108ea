"""The training step of two revisions of ganforge, side by side in one process: img/s of the trainer's
``train_step`` at a base git revision and at the working tree, on the same config, alternating in short
rounds so that both see the same spells of a shared machine.

    PYTHONPATH=src python benchmarks/ab_step.py --base REV CONFIG [OVERRIDES...] [--rounds 6] [--steps 15]

The base revision's ``src/ganforge`` is exported with ``git archive`` into a temporary folder as a package
named ``ganforge_base`` (ganforge imports itself relatively, so both load side by side), each side builds its
experiment from the same config and overrides and warms up (``--warmup`` steps), then each round times
``--steps`` steps of each side in turn. It prints each side's img/s per round, their means, and the ratio
(working tree over base) of the summed rates. Both sides draw their own random streams: the ratio is of
speed, not of identical computations.
"""

from __future__ import annotations

import argparse
import importlib
import io
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def export_base(rev: str, into: Path) -> None:
    """``src/ganforge`` at ``rev`` as the package ``into/ganforge_base``."""
    blob = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "src/ganforge"], check=True,
                          capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        tar.extractall(into, filter="data")
    (into / "src" / "ganforge").rename(into / "ganforge_base")


def trainer(package: str, config: str, overrides: list[str], warmup: int):
    api = importlib.import_module(package + ".api")
    build = importlib.import_module(package + ".build")
    training = importlib.import_module(package + ".training.trainer")
    exp = build.build_experiment(api.load_config(config, overrides), progress=False)
    t = training.Trainer(exp)
    for _ in range(warmup):
        t.train_step()
    return t, exp.cfg.data.batch_size * exp.cfg.train.d_steps


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", required=True, help="git revision to compare the working tree with")
    ap.add_argument("config")
    ap.add_argument("overrides", nargs="*")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--steps", type=int, default=15)
    ap.add_argument("--warmup", type=int, default=5)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        export_base(args.base, Path(tmp))
        sys.path.insert(0, tmp)
        try:
            sides = {name: trainer(pkg, args.config, args.overrides, args.warmup)
                     for name, pkg in ((args.base, "ganforge_base"), ("working tree", "ganforge"))}
        finally:
            sys.path.remove(tmp)
        rates: dict[str, list[float]] = {name: [] for name in sides}
        for _ in range(args.rounds):
            for name, (t, images) in sides.items():
                start = time.perf_counter()
                for _ in range(args.steps):
                    t.train_step()
                rates[name].append(args.steps * images / (time.perf_counter() - start))
    for name, r in rates.items():
        print(f"{name:>14}: img/s per round {' '.join(f'{x:.0f}' for x in r)}, mean {sum(r) / len(r):.1f}")
    ratio = sum(rates["working tree"]) / sum(rates[args.base])
    print(f"ratio working tree / {args.base}: {ratio:.3f}")
    return {"rates": rates, "ratio": ratio}


if __name__ == "__main__":
    main()
