"""Scatter plots of 2-D samples over the true mode centres (a histogram for 1-D samples)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .figure import pyplot, save_figure


def save_scatter(points, path: str | Path, centers=None, title: str = "", real=None) -> Path:
    plt = pyplot()
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim == 2 and pts.shape[1] == 1:  # 1-D samples: a histogram, the modes as vertical lines
        fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
        ax.hist(pts[:, 0], bins=60, density=True, color="tab:green", alpha=0.7, label="generated")
        for k, c in enumerate(np.asarray(centers if centers is not None else []).reshape(-1)):
            ax.axvline(c, color="tab:red", ls="--", label="true modes" if k == 0 else None)
        return save_figure(fig, path, ax, title, legend="upper right")
    fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
    if real is not None:
        r = np.asarray(real)
        ax.scatter(r[:, 0], r[:, 1], s=2, c="0.75", label="real", linewidths=0)
    # the generated points on top: a G whose modes are sharp puts them right on the centres' markers
    ax.scatter(pts[:, 0], pts[:, 1], s=3, c="tab:blue", alpha=0.6, label="generated", linewidths=0, zorder=3)
    if centers is not None:
        c = np.asarray(centers)
        ax.scatter(c[:, 0], c[:, 1], s=60, c="tab:red", marker="x", linewidths=1, label="true modes", zorder=2)
        span = np.abs(c).max() * 1.5 + 0.5
        ax.set_xlim(-span, span)
        ax.set_ylim(-span, span)
    ax.set_aspect("equal")
    return save_figure(fig, path, ax, title, legend="upper right")
