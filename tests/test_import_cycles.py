"""No import cycles among the project's own modules.

A cycle ties layers that should depend one way (the store's tables module and the repositories
it composed once did) and makes import order matter. Every import statement counts, also one inside
a function or under TYPE_CHECKING: a lazy import keeps a cycle off the start-up path, not out of
the design.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = (
    "shared", "tools", "incoming_proxy", "outgoing_handler", "scheduled_connector", "outbox_sweep", "configure", "bench", "tests"
)

pytestmark = pytest.mark.unit

# module -> {imported module: line of the first import of it}
Graph = dict[str, dict[str, int]]


def project_modules(root: Path, packages: Iterable[str]) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file under the given top-level folders."""
    modules: dict[str, Path] = {}
    for top in packages:
        for path in sorted((root / top).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def _owner(name: str, modules: Mapping[str, Path]) -> str | None:
    """The project module `name` is or lives in (`a.b.C` -> `a.b`), None for a third-party name."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _imported(module: str, path: Path, node: ast.Import | ast.ImportFrom) -> list[str]:
    """Dotted names one import statement loads: `from pkg import name` gives `pkg.name`."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:  # relative: from the package this file is in (or is, for an __init__)
        package = module.split(".")
        if path.name != "__init__.py":
            package = package[:-1]
        package = package[: len(package) - (node.level - 1)]
        base = ".".join([*package, base] if base else package)
    return [f"{base}.{alias.name}" for alias in node.names]


def import_graph(modules: Mapping[str, Path]) -> Graph:
    """Edges from each module to the project modules it imports anywhere in its file.

    `from pkg import name` counts as an import of `pkg.name` when that is a module, else of `pkg`.
    An edge from a submodule to a package it lives in is left out: Python imports the package
    first anyway, so it says nothing about the design.
    """
    graph: Graph = {name: {} for name in modules}
    for module, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            for name in _imported(module, path, node):
                target = _owner(name, modules)
                if target is None or target == module or module.startswith(target + "."):
                    continue
                graph[module].setdefault(target, node.lineno)
    return graph


def cycles(graph: Graph) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component: list[str] = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def describe(component: list[str], graph: Graph, modules: Mapping[str, Path], root: Path) -> str:
    """One component with the imports that hold it together, as `file:line a -> b`."""
    members = set(component)
    lines = [f"cycle of {len(component)} modules: {', '.join(component)}"]
    for module in component:
        where = modules[module].relative_to(root)
        for target, line in sorted(graph[module].items()):
            if target in members:
                lines.append(f"  {where}:{line}  {module} -> {target}")
    return "\n".join(lines)


def test_the_project_has_no_import_cycles() -> None:
    modules = project_modules(ROOT, PACKAGES)
    graph = import_graph(modules)
    found = cycles(graph)
    assert not found, "\n\n".join(describe(c, graph, modules, ROOT) for c in found)


def test_the_walk_sees_lazy_type_checking_and_relative_imports(tmp_path: Path) -> None:
    """The detector itself: a cycle closed only by a function-level or TYPE_CHECKING import is found."""
    files = {
        "app/__init__.py": "from app import low\n",  # a package importing its child is no cycle
        "app/low.py": "from app import high\n\ndef later():\n    from app.high import thing\n",
        "app/high.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .low import later\n",
        "app/pkg/__init__.py": "",
        "app/pkg/a.py": "import app.pkg.b\n",
        "app/pkg/b.py": "def f():\n    from . import a\n",
        "app/alone.py": "import os\nfrom app import pkg\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    graph = import_graph(project_modules(tmp_path, ["app"]))
    assert graph["app.low"] == {"app.high": 1}
    assert graph["app.alone"] == {"app.pkg": 2}
    assert cycles(graph) == [["app.high", "app.low"], ["app.pkg.a", "app.pkg.b"]]
