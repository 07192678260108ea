"""Pictures: image grids (PIL) and toy scatter plots (matplotlib)."""

from .curves import plot_eval_curves, read_metrics
from .grid import make_grid, save_grid, to_uint8
from .scatter import save_scatter

__all__ = ["plot_eval_curves", "read_metrics", "make_grid", "save_grid", "save_scatter", "to_uint8"]
