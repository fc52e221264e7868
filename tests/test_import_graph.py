"""The package's import graph: no cycles, and dependencies that point one way.

Read statically (every ``import`` statement anywhere in a file, function bodies included, so a
lazy import counts as much as a top-level one), so the test needs no import of the package.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

# Subpackages (first level under toonforge) and what each must never import.
FORBIDDEN = {
    # The inference path: stylize, video, serve and the ONNX runtime never read training code.
    "pipelines": {"training", "cli", "app"},
    "face": {"training", "cli", "pipelines", "app"},
    "export": {"training", "cli", "app"},
    "io": {"training", "cli", "pipelines", "models", "app"},
    "styles": {"training", "cli", "evaluation", "app"},
    "serve": {"training", "cli", "app"},
    # Building blocks sit below what uses them.
    "models": {"training", "cli", "pipelines", "evaluation", "app"},
    "nn": {"training", "cli", "pipelines", "evaluation", "models", "app"},
    "losses": {"training", "cli", "pipelines", "evaluation", "metrics", "app"},
    "metrics": {"training", "cli", "app"},
    "training": {"cli", "app"},
}


def module_graph(src: Path = SRC) -> dict[str, set[str]]:
    """Every toonforge module -> the toonforge modules it imports (dotted names)."""
    files: dict[str, tuple[Path, bool]] = {}
    for f in src.joinpath("toonforge").rglob("*.py"):
        parts = list(f.relative_to(src).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        files[".".join(parts[:-1] if is_pkg else parts)] = (f, is_pkg)

    def known(name: str) -> str | None:
        while name and name not in files:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for mod, (path, is_pkg) in files.items():
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = mod.split(".") if is_pkg else mod.split(".")[:-1]
                    base = base[: len(base) - node.level + 1]
                    prefix = ".".join(base + ([node.module] if node.module else []))
                else:
                    prefix = node.module or ""
                targets = [f"{prefix}.{a.name}" if f"{prefix}.{a.name}" in files else prefix for a in node.names]
            for t in targets:
                if t.startswith("toonforge") and (dep := known(t)) and dep != mod:
                    deps.add(dep)
        graph[mod] = deps
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
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
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _subpackage(mod: str) -> str:
    parts = mod.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_the_package_has_no_import_cycle():
    assert cycles(module_graph()) == []


@pytest.mark.parametrize("sub", sorted(FORBIDDEN))
def test_dependencies_point_one_way(sub):
    bad = sorted(f"{mod} imports {dep}" for mod, deps in module_graph().items() if _subpackage(mod) == sub
                 for dep in deps if _subpackage(dep) in FORBIDDEN[sub])
    assert bad == []


def test_the_checks_can_fail(tmp_path):
    """A planted cycle and a planted inference -> training import are both seen."""
    pkg = tmp_path / "toonforge"
    for sub in ("pipelines", "training"):
        (pkg / sub).mkdir(parents=True)
        (pkg / sub / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "pipelines" / "a.py").write_text("def f():\n    from ..training import b\n")
    (pkg / "training" / "b.py").write_text("from toonforge.pipelines.a import f\n")
    graph = module_graph(tmp_path)
    assert graph["toonforge.pipelines.a"] == {"toonforge.training.b"}
    assert cycles(graph) == [["toonforge.pipelines.a", "toonforge.training.b"]]
