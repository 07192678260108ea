"""Scatter plots of 2-D samples over the true mode centres (matplotlib, Agg backend)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def save_scatter(points, path: str | Path, centers=None, title: str = "", real=None) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pts = np.asarray(points, dtype=np.float64)
    fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
    if real is not None:
        r = np.asarray(real)
        ax.scatter(r[:, 0], r[:, 1], s=2, c="0.75", label="real", linewidths=0)
    ax.scatter(pts[:, 0], pts[:, 1], s=3, c="tab:blue", alpha=0.6, label="generated", linewidths=0)
    if centers is not None:
        c = np.asarray(centers)
        ax.scatter(c[:, 0], c[:, 1], s=60, c="tab:red", marker="x", label="true modes")
        span = np.abs(c).max() * 1.5 + 0.5
        ax.set_xlim(-span, span)
        ax.set_ylim(-span, span)
    ax.set_aspect("equal")
    ax.legend(loc="upper right", fontsize=8)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
