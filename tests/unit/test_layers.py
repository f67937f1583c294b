"""The layering of docs/architecture.md §1, read from the source: `domain` imports nothing
of the package, nothing below `api` imports `api`, and the packages form no cycle."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import verify_service

PACKAGE = Path(verify_service.__file__).parent
TOP = "verify_service"


def _imports() -> dict[str, set[str]]:
    """Module's first-level part (`domain`, `api`, `cli`, ...) -> the parts it imports."""
    edges: dict[str, set[str]] = defaultdict(set)
    for path in PACKAGE.rglob("*.py"):
        part = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                bits = name.split(".")
                if bits[0] == TOP and len(bits) > 1 and bits[1] != part:
                    edges[part].add(bits[1])
    return edges


def test_domain_imports_nothing_of_the_package() -> None:
    assert _imports().get("domain", set()) == set()


def test_nothing_below_the_api_imports_it() -> None:
    edges = _imports()
    # The API is imported only by the entry points that start it.
    importers = {part for part, targets in edges.items() if "api" in targets}
    assert importers <= {"cli", "testing"}


def test_use_cases_are_imported_only_from_above() -> None:
    edges = _imports()
    importers = {part for part, targets in edges.items() if "usecases" in targets}
    assert importers <= {"api", "cli", "testing"}


def test_the_packages_form_no_cycle() -> None:
    edges = _imports()
    seen: dict[str, int] = {}  # 1 on the current path, 2 done

    def visit(node: str, path: list[str]) -> None:
        seen[node] = 1
        for target in sorted(edges.get(node, ())):
            assert seen.get(target) != 1, "import cycle: " + " -> ".join([*path, target])
            if target not in seen:
                visit(target, [*path, target])
        seen[node] = 2

    for node in sorted(edges):
        if node not in seen:
            visit(node, [node])
