"""The layout rules of docs/architecture.md, checked on the source: no package import cycles (lazy
imports inside functions included), no module over the size limit, and SQL only in ``store/``."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "sightline"
MAX_LINES = 400
# Query-building names of SQLAlchemy: anything that writes SQL belongs in store/.
SQL_NAMES = {"select", "insert", "update", "delete", "text", "func", "and_", "or_", "exists"}


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _package_of(path: Path) -> str:
    parts = path.relative_to(PACKAGE).parts
    return parts[0] if len(parts) > 1 else parts[0].removesuffix(".py")


def _imports(tree: ast.AST) -> list[str]:
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
    return found


def package_graph() -> dict[str, dict[str, list[str]]]:
    """``{package: {imported package: [modules doing it]}}`` over every import in the source."""
    graph: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for path in _modules():
        source = _package_of(path)
        for name in _imports(ast.parse(path.read_text())):
            parts = name.split(".")
            if parts[0] != "sightline" or len(parts) < 2 or parts[1] == source:
                continue
            graph[source][parts[1]].append(str(path.relative_to(PACKAGE)))
    return graph


def _reachable(graph: dict[str, dict[str, list[str]]], start: str) -> set[str]:
    seen: set[str] = set()
    stack = [start]
    while stack:
        for nxt in graph.get(stack.pop(), {}):
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return seen


def test_no_package_import_cycle():
    graph = package_graph()
    cycles = [f"{a} -> {b} ({', '.join(sorted(set(mods))[:3])})"
              for a, targets in graph.items() for b, mods in targets.items() if a in _reachable(graph, b)]
    assert not cycles, "package import cycles:\n" + "\n".join(sorted(cycles))


def test_the_cycle_check_can_fail():
    graph = {"a": {"b": ["a/x.py"]}, "b": {"a": ["b/y.py"]}}
    assert "a" in _reachable(graph, "b")  # the same walk the real check uses finds a two-package cycle


def test_no_module_over_the_size_limit():
    sizes = {str(p.relative_to(PACKAGE)): len(p.read_text().splitlines()) for p in _modules()}
    too_long = {name: n for name, n in sizes.items() if n > MAX_LINES}
    assert not too_long, f"modules over {MAX_LINES} lines: {too_long}"


def test_sql_lives_in_store():
    offenders = []
    for path in _modules():
        if _package_of(path) == "store":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "sqlalchemy":
                names = {alias.name for alias in node.names} & SQL_NAMES
                if names:
                    offenders.append(f"{path.relative_to(PACKAGE)}: {sorted(names)}")
            elif isinstance(node, ast.Attribute) and node.attr in {"execute", "exec_driver_sql", "query"}:
                offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno} .{node.attr}(")
    assert not offenders, "SQL outside store/:\n" + "\n".join(offenders)


def test_vision_does_no_model_lookup_or_network():
    for path in (PACKAGE / "vision").rglob("*.py"):
        for name in _imports(ast.parse(path.read_text())):
            assert not name.startswith(("sightline.models", "urllib", "httpx", "requests", "socket")), (path, name)


def test_library_users_get_the_erasure_hooks():
    """``from sightline import Gallery`` in a fresh interpreter (no server, no CLI) still erases the event history."""
    import subprocess
    import sys

    code = ("from sightline.privacy.erasure import registered_erasure_hooks as r; before = r(); "
            "from sightline import Gallery; print(before, r())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[] ['checkout', 'events']", out
