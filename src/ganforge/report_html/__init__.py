"""``ganforge report --html``: one self-contained HTML page of a run, or a comparison of several.

The page is one file that works offline: every picture is inlined as a ``data:`` URI (PNG plots
from matplotlib, the sample grids, the training GIF), the styles are inline and the only script
is a few lines switching the sample-grid slider's ``<img>``. What a run lacks (no grids, no
``eval.json``, no metrics yet) is skipped with a short note.

One run: its resolved config, the loss and D(x)/D(G(z)) curves, periodic metrics over training,
a slider over the fixed-noise grids, the last grid, a per-class grid (conditional image runs),
the ``eval.json`` table beside the real-data baseline, and the training GIF.

Several runs: one comparison table (config keys that differ highlighted, final metrics, training
time and img/s) and the curves overlaid, one colour per run.

:mod:`.runinfo` reads a run, :mod:`.figures` draws its pictures, :mod:`.page` writes the pages.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import GanforgeError
from .page import comparison_html, single_run_html
from .runinfo import RunInfo, load_run


def html_report(runs: list[str | Path], out: str | Path | None = None, baseline: bool = False) -> Path:
    """Write the report of one run (default ``RUN/report.html``) or the comparison of several
    (default ``report.html`` here); returns the path written."""
    if not runs:
        raise GanforgeError("give at least one run directory")
    infos = [load_run(r) for r in runs]  # every path checked before any plot is made
    if len(infos) == 1:
        text = single_run_html(infos[0], baseline)
        out = Path(out) if out else infos[0].run.path / "report.html"
    else:
        text = comparison_html(infos)
        out = Path(out) if out else Path("report.html")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(out)
    return out


__all__ = ["html_report", "load_run", "RunInfo", "single_run_html", "comparison_html"]
