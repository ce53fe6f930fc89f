"""No import circle among knowledge/ modules: every `import` counts, at the top of a module or
inside a function (a late import hides a circle, it does not remove it)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def knowledge_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Module -> the knowledge modules it imports (a name imported from a package counts as
    its submodule when there is one)."""
    files = {module_name(p, root): p for p in (root / "knowledge").rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in files}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
            for target in targets:
                if target in files and target != name:
                    graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
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
    return found


def test_no_import_cycle_among_knowledge_modules() -> None:
    assert cycles(knowledge_graph()) == []


def test_the_checker_finds_a_cycle(tmp_path: Path) -> None:
    pkg = tmp_path / "knowledge"
    (pkg / "sources").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sources" / "__init__.py").write_text("")
    (pkg / "service.py").write_text("from knowledge.sources.worker import IngestWorker\n")
    (pkg / "sources" / "worker.py").write_text(
        "def serve() -> None:\n    from knowledge.service import BriefService\n"
    )
    (pkg / "alone.py").write_text("from . import service\n")
    graph = knowledge_graph(tmp_path)
    assert graph["knowledge.alone"] == {"knowledge", "knowledge.service"}
    assert cycles(graph) == [["knowledge.service", "knowledge.sources.worker"]]


def test_the_worker_builds_ingestion_only() -> None:
    graph = knowledge_graph()
    reach: set[str] = set()
    todo = ["knowledge.sources.worker"]
    while todo:
        for nxt in graph[todo.pop()] - reach:
            reach.add(nxt)
            todo.append(nxt)
    assert "knowledge.service" not in reach
    assert "knowledge.build" not in reach
