"""The package's shape: no import cycles between ganforge's modules.

Every module under ``src/ganforge`` is parsed with ``ast``; each ``import ganforge.x`` and
``from .x import y`` (module level and inside functions alike; ``if TYPE_CHECKING:`` blocks aside)
is an edge. ``from .pkg import name`` counts as an import of ``pkg/__init__`` and, when ``name``
is a submodule, of that submodule too. Importing a submodule does not count as importing its
parent package (Python runs the parent's ``__init__`` first, but a package importing its own
submodules is the normal shape, not a cycle).
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "ganforge"


def module_names() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package."""
    out = {}
    for path in sorted((SRC / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


class _Imports(ast.NodeVisitor):
    def __init__(self, module: str, is_package: bool, known: set[str]):
        self.package = module if is_package else module.rpartition(".")[0]
        self.known = known
        self.found: set[str] = set()

    def _add(self, name: str) -> None:
        while name and name not in self.known:  # `import ganforge.a.b.attr`-like spellings
            name = name.rpartition(".")[0]
        if name:
            self.found.add(name)

    def visit_If(self, node: ast.If) -> None:
        test = node.test
        if (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
                isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"):
            for child in node.orelse:
                self.visit(child)
            return
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.name == PACKAGE or alias.name.startswith(PACKAGE + "."):
                self._add(alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            base_parts = self.package.split(".")
            if node.level > 1:
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
            base = ".".join(base_parts + ([node.module] if node.module else []))
        else:
            base = node.module or ""
        if not (base == PACKAGE or base.startswith(PACKAGE + ".")):
            return
        self._add(base)
        for alias in node.names:
            sub = f"{base}.{alias.name}"
            if sub in self.known:
                self.found.add(sub)


def import_graph() -> dict[str, set[str]]:
    files = module_names()
    known = set(files)
    graph = {}
    for name, path in files.items():
        visitor = _Imports(name, path.name == "__init__.py", known)
        visitor.visit(ast.parse(path.read_text(), str(path)))
        graph[name] = visitor.found - {name}
    return graph


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm: the components with more than one module (each holds a cycle)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def a_cycle(graph: dict[str, set[str]], component: list[str]) -> list[str]:
    """One shortest cycle through the first module of ``component`` (breadth-first)."""
    inside = set(component)
    start = component[0]
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(graph[v] & inside):
                if w == start:
                    return paths[v] + [start]
                if w not in paths:
                    paths[w] = paths[v] + [w]
                    nxt.append(w)
        frontier = nxt
    return component


def describe_cycles(graph: dict[str, set[str]]) -> list[str]:
    return [" -> ".join(a_cycle(graph, comp)) + f"   (component: {', '.join(comp)})"
            for comp in strongly_connected(graph)]


def test_the_graph_sees_relative_absolute_and_function_level_imports():
    graph = import_graph()
    assert "ganforge.errors" in graph["ganforge.registry"]  # from .errors import ...
    assert "ganforge.evaluation.samples" in graph["ganforge.training.callbacks"]  # inside a method
    assert "ganforge.training.classifier" in graph["ganforge.commands"]  # inside a function, two dots deep
    assert "ganforge.features.classifier" in graph["ganforge.training.classifier"]  # a submodule, not its package
    assert "ganforge.features" not in graph["ganforge.training.classifier"]
    assert {"ganforge.features.base", "ganforge.features.inception"} <= graph["ganforge.features"]  # from .x import y
    assert "ganforge.metrics" not in graph["ganforge.features"]


def test_metrics_are_pure_math():
    graph = import_graph()
    for name, deps in graph.items():
        if name == "ganforge.metrics" or name.startswith("ganforge.metrics."):
            assert all(d.startswith("ganforge.metrics") for d in deps), (name, deps)


def test_no_import_cycles():
    cycles = describe_cycles(import_graph())
    print("\n".join(cycles))
    assert not cycles, "import cycles:\n" + "\n".join(cycles)
