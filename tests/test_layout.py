"""The layout holds: imports run down only, no import circle crosses packages, the core imports
no domain, and only the pipeline's stages import the speech engines.

Read from the source with `ast` (every import, function-level ones included), so it needs
nothing installed and fails the moment a new arrow points the wrong way.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: Each package's floor; an import may only go to a lower floor (or stay in its package).
FLOORS = {
    "wsgi": 7,
    "worker": 7,
    "web": 6,
    "mail": 5,
    "insights": 5,
    "payments": 4,
    "ticketing": 3,
    "guides": 3,
    "content": 2,
    "app": 1,
    "audio_pipeline": 1,
}
DOMAINS = {"content", "guides", "ticketing", "payments", "insights", "web", "mail"}
#: The composition root: the one file that knows every domain.
FACTORY = "app/__init__.py"


def _files() -> list[Path]:
    files = [ROOT / "wsgi.py", ROOT / "worker.py"]
    for package in FLOORS:
        if (ROOT / package).is_dir():
            files += sorted((ROOT / package).rglob("*.py"))
    return files


def _module_file(dotted: str) -> Path | None:
    base = ROOT.joinpath(*dotted.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(path: Path) -> Iterator[tuple[int, Path]]:
    """(line, file imported) for every import of a project file in `path`."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = _module_file(alias.name)
                if target is not None:
                    yield node.lineno, target
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                # `from guides import jobs` imports the submodule; `from app.db import x` the file.
                target = _module_file(f"{node.module}.{alias.name}") or _module_file(node.module)
                if target is not None:
                    yield node.lineno, target


def _package(path: Path) -> str:
    return path.relative_to(ROOT).parts[0].removesuffix(".py")


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


@pytest.fixture(scope="module")
def graph() -> dict[Path, list[tuple[int, Path]]]:
    return {path: list(_imports(path)) for path in _files()}


def test_every_import_points_down(graph: dict[Path, list[tuple[int, Path]]]) -> None:
    wrong = []
    for path, imports in graph.items():
        here = _package(path)
        for line, target in imports:
            there = _package(target)
            if there == here or _rel(path) == FACTORY:
                continue
            if FLOORS[there] >= FLOORS[here]:
                wrong.append(f"{_rel(path)}:{line} imports {_rel(target)}")
    assert not wrong, "imports that do not point down:\n" + "\n".join(wrong)


def test_the_core_imports_no_domain_and_nobody_imports_the_factory(
    graph: dict[Path, list[tuple[int, Path]]],
) -> None:
    wrong = []
    for path, imports in graph.items():
        for line, target in imports:
            if _package(path) == "app" and _rel(path) != FACTORY and _package(target) in DOMAINS:
                wrong.append(f"{_rel(path)}:{line} (core) imports {_rel(target)}")
            if _rel(target) == FACTORY and _package(path) not in {"wsgi", "worker"}:
                wrong.append(f"{_rel(path)}:{line} imports the factory {FACTORY}")
    assert not wrong, "\n".join(wrong)


def test_only_the_stages_import_the_speech_engines(
    graph: dict[Path, list[tuple[int, Path]]],
) -> None:
    importers = {
        _rel(path)
        for path, imports in graph.items()
        if _package(path) != "audio_pipeline"
        and any(_package(target) == "audio_pipeline" for _, target in imports)
    }
    assert importers == {"guides/stages.py"}


def test_no_import_circle_crosses_packages(graph: dict[Path, list[tuple[int, Path]]]) -> None:
    edges = {path: {target for _, target in imports} for path, imports in graph.items()}
    circles = [c for c in _strongly_connected(edges) if len({_package(p) for p in c}) > 1]
    assert not circles, [sorted(_rel(p) for p in c) for c in circles]


def test_no_import_circle_between_packages(graph: dict[Path, list[tuple[int, Path]]]) -> None:
    edges: dict[str, set[str]] = {}
    for path, imports in graph.items():
        if _rel(path) == FACTORY:
            continue  # the composition root sits above every domain it assembles
        for _, target in imports:
            if _package(target) != _package(path):
                edges.setdefault(_package(path), set()).add(_package(target))
    circles = [c for c in _strongly_connected(edges) if len(c) > 1]
    assert not circles, circles


def _strongly_connected(edges: dict[object, set[object]]) -> list[set[object]]:
    """Tarjan's algorithm, iteratively: the strongly connected components of a graph."""
    index: dict[object, int] = {}
    low: dict[object, int] = {}
    on_stack: set[object] = set()
    stack: list[object] = []
    found: list[set[object]] = []
    counter = 0
    nodes = set(edges) | {t for targets in edges.values() for t in targets}
    for start in nodes:
        if start in index:
            continue
        work = [(start, iter(edges.get(start, ())))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    found.append(component)
            elif child not in index:
                index[child] = low[child] = counter
                counter += 1
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(edges.get(child, ()))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return found
