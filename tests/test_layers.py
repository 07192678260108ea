"""The package's floors: every import points down (or sideways), never up.

``LAYERS`` is the one statement of the order, lowest first. A module belongs to the entry with the
longest dotted prefix of its name (``evaluation.run`` before ``evaluation``); the package itself,
``ganforge/__init__.py``, is the public API on the top floor. The import graph is the one
``test_structure`` parses with ``ast``: module-level and function-level imports, relative ones
resolved, ``if TYPE_CHECKING:`` blocks aside. An import within one floor is allowed; an import of a
higher floor fails the test, naming each such import.

Why this order (what the code needs):
- core: the config schema, the registry mechanism, the run directory's paths, the shipped presets
  and zoo files: they name things and import nothing else of ganforge.
- ingredients: data sets, architectures (and their latent distributions), objectives, feature
  networks, metric math, drawing (grids, scatter plots, curves, the theory figures' math).
- evaluation: scoring samples against a data set (the metric catalog, reference statistics). It
  never reaches into the trainer; the trainer calls it for periodic evaluation.
- training: the loop, its callbacks and checkpoints, assembling an experiment (``build``) and
  checking a config's choices against every registry (``choices``).
- runs: what reads a trained run or zoo entry: its generator (``sampling``) and ``ganforge eval``
  (``evaluation.run``), which an application extends through ``evaluation.run.RUN_METRICS``.
- applications: anomaly detection, semi-supervised classification, inpainting.
- tools: export, reports, the benchmark, the theory games (which train).
- front: the Python API (``ganforge``) and the command line.
"""

from __future__ import annotations

from test_structure import import_graph

PACKAGE = "ganforge"
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("core", ("errors", "files", "registry", "config", "config_values", "runs", "version", "presets", "zoo")),
    ("ingredients", ("data", "models", "objectives", "features", "metrics", "viz")),
    ("evaluation", ("evaluation",)),
    ("training", ("training", "build", "choices")),
    ("runs", ("sampling", "evaluation.run")),
    ("applications", ("applications",)),
    ("tools", ("export", "report", "report_html", "bench", "flops", "viz.theory_games")),
    ("front", ("", "api", "cli", "commands", "__main__")),
]


def layer_of(module: str) -> tuple[int, str] | None:
    """(floor index, the table entry that placed it) of a dotted module name, or None if unplaced."""
    rel = module[len(PACKAGE):].lstrip(".")
    best = None
    for i, (_, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            hit = rel == p or (p and rel.startswith(p + "."))
            if hit and (best is None or len(p) > len(best[1])):
                best = (i, p)
    return best


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """One line per import from a lower floor to a higher one."""
    out = []
    for src in sorted(graph):
        for dst in sorted(graph[src]):
            (a, _), (b, _) = layer_of(src), layer_of(dst)
            if b > a:
                out.append(f"{src} ({LAYERS[a][0]}) imports {dst} ({LAYERS[b][0]})")
    return out


def test_every_module_has_a_floor():
    unplaced = [m for m in import_graph() if layer_of(m) is None]
    assert not unplaced, f"modules on no floor of LAYERS: {', '.join(unplaced)}"


def test_every_table_entry_names_a_module():
    graph = import_graph()
    used = {layer_of(m)[1] for m in graph if layer_of(m) is not None}
    stale = [p for _, prefixes in LAYERS for p in prefixes if p not in used]
    assert not stale, f"LAYERS names modules that do not exist: {', '.join(stale)}"


def test_an_upward_import_is_named():
    """The check itself: an ingredient importing the trainer is one named line; longest prefixes win."""
    graph = {"ganforge.models.x": {"ganforge.training.trainer"}, "ganforge.training.trainer": set()}
    assert upward_imports(graph) == [
        "ganforge.models.x (ingredients) imports ganforge.training.trainer (training)"]
    assert layer_of("ganforge.evaluation.run")[1] == "evaluation.run"
    assert layer_of("ganforge")[0] == len(LAYERS) - 1


def test_imports_point_down():
    up = upward_imports(import_graph())
    assert not up, f"{len(up)} import(s) point up the floors of LAYERS:\n" + "\n".join(up)
