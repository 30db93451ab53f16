"""Imports run only downward (scripts -> agents -> envs -> randomizers) and never in a cycle.

Every import counts, including those inside functions: a lazy import hides a dependency
from the reader but not from the design. Run this file directly to print the layer graph.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("randomizers", "envs", "agents", "scripts")  # lowest first


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {
        _module_name(p): p for layer in LAYERS for p in sorted((ROOT / layer).rglob("*.py"))
    }


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The project module ``name`` refers to (a package's attribute resolves to the package)."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def import_graph() -> dict[str, set[str]]:
    """Project module -> the project modules it imports, anywhere in its body."""
    modules = _modules()
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                targets = [f"{base}.{a.name}" for a in node.names] + [base]
            for target in targets:
                found = _resolve(target, modules)
                if found is not None and found != name:
                    graph[name].add(found)
        graph.setdefault(name, set())
    return dict(graph)


def _layer(module: str) -> int:
    return LAYERS.index(module.split(".")[0])


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """Every import from a lower layer into a higher one, as ``a -> b`` lines."""
    return sorted(
        f"{a} -> {b}" for a, targets in graph.items() for b in targets if _layer(b) > _layer(a)
    )


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(10_000, sys.getrecursionlimit()))
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_graph_sees_the_project() -> None:
    graph = import_graph()
    assert "envs.panda_env" in graph and "randomizers.compose" in graph
    assert "randomizers.compose" in graph["envs.panda_env"]  # a known downward edge


def test_no_upward_imports() -> None:
    upward = upward_imports(import_graph())
    assert not upward, "imports must run scripts -> agents -> envs -> randomizers:\n" + "\n".join(
        upward
    )


def test_no_import_cycles() -> None:
    found = cycles(import_graph())
    assert not found, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in found)


MAX_LINES = 400


def test_no_module_is_over_400_lines() -> None:
    """Small modules, one concept each: a file past the limit is split by concern."""
    files = [p for p in ROOT.glob("*/**/*.py") if p.parts[len(ROOT.parts)] in (*LAYERS, "tests")]
    long = {str(p.relative_to(ROOT)): n for p in files
            if (n := len(p.read_text().splitlines())) > MAX_LINES}  # fmt: skip
    assert len(files) > 100
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def test_the_checks_catch_what_they_claim() -> None:
    graph = {"randomizers.a": {"envs.b"}, "envs.b": {"randomizers.a"}, "agents.c": {"envs.b"}}
    assert upward_imports(graph) == ["randomizers.a -> envs.b"]
    assert cycles(graph) == [["envs.b", "randomizers.a"]]


if __name__ == "__main__":
    graph = import_graph()
    edges: dict[tuple[str, str], int] = defaultdict(int)
    for a, targets in graph.items():
        for b in targets:
            edges[a.split(".")[0], b.split(".")[0]] += 1
    print(f"{len(graph)} modules, {sum(map(len, graph.values()))} imports between them")
    for (a, b), n in sorted(edges.items(), key=lambda e: (-_layer(e[0][0] + "."), e[0][1])):
        print(f"  {a:12s} -> {b:12s} {n:4d}{'   UPWARD' if _layer(b) > _layer(a) else ''}")
    print("upward imports:", upward_imports(graph) or "none")
    print("cycles:", [" <-> ".join(c) for c in cycles(graph)] or "none")
