"""Pictures: image grids (PIL) and toy scatter plots (matplotlib)."""

from .grid import make_grid, save_grid, to_uint8
from .scatter import save_scatter

__all__ = ["make_grid", "save_grid", "save_scatter", "to_uint8"]
