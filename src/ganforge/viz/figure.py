"""The matplotlib plumbing every saved plot shares: the Agg backend, and writing a figure out."""

from __future__ import annotations

from pathlib import Path


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: str | Path, ax=None, title: str = "", legend: str | None = None) -> Path:
    """Optionally put a legend (at ``legend``) and ``title`` on ``ax``; then lay ``fig`` out, write it
    to ``path`` (creating its folder) and close it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if ax is not None and legend:
        ax.legend(loc=legend, fontsize=8)
    if ax is not None and title:
        ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path)
    pyplot().close(fig)
    return path
