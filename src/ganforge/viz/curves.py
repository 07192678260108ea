"""Curves from metrics.jsonl: losses and periodic evaluation metrics over training (matplotlib)."""

from __future__ import annotations

import json
from pathlib import Path

from ..runs import RunDir


def read_metrics(run_dir: str | Path) -> tuple[list[dict], list[dict]]:
    """(training records, evaluation records) of a run's metrics.jsonl."""
    train, evals = [], []
    path = RunDir(run_dir).metrics
    for line in path.read_text().splitlines() if path.is_file() else []:
        rec = json.loads(line)
        (evals if "eval" in rec else train).append(rec)
    return train, evals


def plot_eval_curves(runs: dict[str, Path], out: str | Path, key: str = "fid", x: str = "kimg",
                     title: str = "", log_y: bool = True) -> Path:
    """One line per run: ``key`` of the periodic evaluations against thousands of images seen
    (``x="kimg"``) or steps (``x="step"``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..config import read_config

    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    for label, run_dir in runs.items():
        _, evals = read_metrics(run_dir)
        pts = [(e["step"], e["eval"][key]) for e in evals if key in e["eval"] and e["step"] is not None]
        if not pts:
            continue
        scale = 1.0
        if x == "kimg":
            cfg = read_config(RunDir(run_dir).config)
            scale = cfg.data.batch_size * cfg.train.d_steps / 1000.0
        ax.plot([s * scale for s, _ in pts], [v for _, v in pts], marker="o", ms=3, label=label)
    ax.set_xlabel("thousands of real images seen (kimg)" if x == "kimg" else "generator steps")
    ax.set_ylabel(key.upper() if key == "fid" else key)
    if log_y:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out
