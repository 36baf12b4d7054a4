"""Imports point one way: no cycles in the core, the core never imports the app, faiss stays in the index.

The import graph is read from the source with ``ast`` (nothing is imported), so a test
fails on the design, not on what happens to run. Every import counts: at module level,
inside functions and under ``if TYPE_CHECKING:`` (a cycle for the type checker is still a
cycle in the design), and a package's ``__init__`` re-exporting its submodules is an edge
like any other. Importing ``a.b`` is an edge to ``a.b`` only, not to the package ``a``.
"""

from __future__ import annotations

import ast
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# Each first-party package and the folder that holds it; a package that does not exist yet is left out.
PACKAGE_ROOTS = {
    "policyqa": REPO / "src" / "policyqa",
    "policyqa_app": REPO / "app" / "policyqa_app",
    "policyqa_tools": REPO / "tools" / "policyqa_tools",
}
CORE = "policyqa"
INDEX_PACKAGE = "policyqa.index"  # faiss lives here only: today a module, soon a package


@dataclass(frozen=True)
class Import:
    """One import statement's target, resolved to an absolute dotted name, and where it is."""

    importer: str
    target: str
    path: Path
    line: int

    def where(self) -> str:
        return f"{self.path.relative_to(REPO) if self.path.is_relative_to(REPO) else self.path}:{self.line}"


def module_names(package: str, root: Path) -> dict[str, Path]:
    """Every module of the package under ``root`` by dotted name; a package is named by its ``__init__``."""
    modules = {}
    for path in sorted(root.rglob("*.py")):
        parts = [package, *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _resolve_relative(module: str, is_package: bool, level: int, name: str | None) -> str:
    """``from ..x import y`` inside ``module``: the absolute name of ``..x``."""
    package = module.split(".") if is_package else module.split(".")[:-1]
    if level - 1 > len(package) - 1:
        raise ValueError(f"{module}: relative import beyond the top-level package (level {level})")
    base = package[: len(package) - (level - 1)]
    return ".".join([*base, name] if name else base)


def _dynamic_import(node: ast.Call) -> str | None:
    """``importlib.import_module("x")`` or ``__import__("x")`` with a literal name."""
    func = node.func
    called = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
    if called not in {"import_module", "__import__"} or not node.args:
        return None
    first = node.args[0]
    if isinstance(first, ast.Constant) and isinstance(first.value, str) and not first.value.startswith("."):
        return first.value
    return None


def imports_of(module: str, path: Path, known: set[str]) -> list[Import]:
    """Every import in the file at any depth, as absolute names.

    ``from p import name`` is an edge to ``p.name`` when that is a first-party module,
    else to ``p`` (a name defined in ``p``).
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    found = []
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve_relative(module, is_package, node.level, node.module) if node.level else str(node.module)
            if base == "__future__":
                continue
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                targets.append(submodule if submodule in known else base)
        elif isinstance(node, ast.Call) and (name := _dynamic_import(node)) is not None:
            targets = [name]
        found += [Import(module, target, path, node.lineno) for target in targets]  # type: ignore[attr-defined]
    return found


def first_party(target: str, known: set[str]) -> str | None:
    """The first-party module an import lands in: the longest known prefix of ``target``."""
    parts = target.split(".")
    for end in range(len(parts), 0, -1):
        if ".".join(parts[:end]) in known:
            return ".".join(parts[:end])
    return None


def in_package(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


@dataclass(frozen=True)
class ImportGraph:
    """The first-party modules and every import they make (first-party or not)."""

    modules: dict[str, Path]
    imports: list[Import]

    def __repr__(self) -> str:  # pytest prints the fixture on failure: keep that to one line
        return f"ImportGraph({len(self.modules)} modules, {len(self.imports)} imports)"

    @classmethod
    def of(cls, roots: dict[str, Path]) -> ImportGraph:
        modules: dict[str, Path] = {}
        for package, root in roots.items():
            if (root / "__init__.py").is_file():
                modules |= module_names(package, root)
        known = set(modules)
        imports = [found for name, path in modules.items() for found in imports_of(name, path, known)]
        return cls(modules, imports)

    def edges(self, within: str) -> dict[str, dict[str, Import]]:
        """First-party edges between modules of the package ``within``: importer -> target -> first import."""
        known = set(self.modules)
        graph: dict[str, dict[str, Import]] = {m: {} for m in self.modules if in_package(m, within)}
        for found in self.imports:
            target = first_party(found.target, known)
            if found.importer in graph and target is not None and target in graph:
                graph[found.importer].setdefault(target, found)
        return graph


def strongly_connected(graph: dict[str, dict[str, Import]]) -> list[list[str]]:
    """Tarjan's components with a cycle in them (more than one module, or a module importing itself)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(start: str) -> None:
        # Iterative, so a deep graph never meets the recursion limit.
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph[successor]))))
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1 or node in graph[node]:
                        components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(components)


def shortest_cycle(graph: dict[str, dict[str, Import]], start: str, members: set[str]) -> list[str]:
    """The shortest import chain from ``start`` back to itself inside one component."""
    previous: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for successor in sorted(graph[node]):
            if successor not in members:
                continue
            if successor == start:
                chain = [node]
                while chain[-1] != start:
                    chain.append(previous[chain[-1]])
                return [*reversed(chain), start]
            if successor not in previous:
                previous[successor] = node
                queue.append(successor)
    raise AssertionError(f"{start} is in a cycle but no chain leads back to it")


def describe_cycles(graph: dict[str, dict[str, Import]]) -> list[str]:
    """One paragraph per component: its modules, then its distinct shortest cycles with the import lines."""
    paragraphs = []
    for component in strongly_connected(graph):
        members = set(component)
        cycles: dict[frozenset[tuple[str, str]], list[str]] = {}
        for start in component:
            chain = shortest_cycle(graph, start, members)
            cycles.setdefault(frozenset(zip(chain, chain[1:], strict=False)), chain)
        lines = [f"cycle among {len(component)} modules: {component}"]
        for chain in sorted(cycles.values(), key=lambda c: (len(c), c)):
            steps = [f"{a} -> {b} ({graph[a][b].where()})" for a, b in zip(chain, chain[1:], strict=False)]
            lines.append("  " + " -> ".join(chain) + "\n      " + "\n      ".join(steps))
        paragraphs.append("\n".join(lines))
    return paragraphs


def forbidden_imports(graph: ImportGraph, importers: str, forbidden: tuple[str, ...]) -> list[str]:
    """``file:line: importer imports target`` for each import of a ``forbidden`` package by an ``importers`` module."""
    return sorted(
        f"{found.where()}: {found.importer} imports {found.target}"
        for found in graph.imports
        if in_package(found.importer, importers) and any(in_package(found.target, f) for f in forbidden)
    )


@pytest.fixture(scope="module")
def graph() -> ImportGraph:
    return ImportGraph.of(PACKAGE_ROOTS)


# --- the reader itself, on a small package written for the test ----------------------------------


def test_the_reader_resolves_relative_nested_and_type_checking_imports(tmp_path: Path) -> None:
    files = {
        "__init__.py": "from .b import thing\nfrom . import c\n",
        "a.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .b import thing\n",
        "b.py": "def f():\n    from .sub import deep\n    import importlib\n    importlib.import_module('faiss')\n",
        "c.py": "import pkg.a\nfrom pkg import c as again\n",
        "sub/__init__.py": "from .. import a\nfrom ..a import *\n",
        "sub/deep.py": "from .. import a\n",
    }
    for name, text in files.items():
        (tmp_path / "pkg" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "pkg" / name).write_text(text, encoding="utf-8")

    read = ImportGraph.of({"pkg": tmp_path / "pkg"})
    edges = {importer: sorted(targets) for importer, targets in read.edges("pkg").items()}

    assert edges == {
        "pkg": ["pkg.b", "pkg.c"],  # an __init__ re-exporting its submodules
        "pkg.a": ["pkg.b"],  # under TYPE_CHECKING
        "pkg.b": ["pkg.sub.deep"],  # inside a function
        "pkg.c": ["pkg.a", "pkg.c"],
        "pkg.sub": ["pkg.a"],  # `from ..a import *` is pkg.a too
        "pkg.sub.deep": ["pkg.a"],
    }
    assert [(i.importer, i.line) for i in read.imports if i.target == "faiss"] == [("pkg.b", 4)]
    described = describe_cycles(read.edges("pkg"))
    assert len(described) == 2, described
    assert "['pkg.a', 'pkg.b', 'pkg.sub.deep']" in described[0]
    assert "pkg.a -> pkg.b -> pkg.sub.deep -> pkg.a" in described[0]
    assert "['pkg.c']" in described[1] and "pkg.c -> pkg.c" in described[1]


def test_the_reader_finds_the_packages(graph: ImportGraph) -> None:
    assert {"policyqa", "policyqa.assistant", "policyqa_app", "policyqa_app.server"} <= set(graph.modules)
    assert any(in_package(m, INDEX_PACKAGE) for m in graph.modules)
    assert any(found.target == "faiss" for found in graph.imports)  # else the faiss rule checks nothing


# --- the rules -----------------------------------------------------------------------------------


def test_the_core_has_no_import_cycle(graph: ImportGraph) -> None:
    cycles = describe_cycles(graph.edges(CORE))
    assert not cycles, f"{len(cycles)} import cycle(s) in {CORE}:\n\n" + "\n\n".join(cycles)


def test_the_core_never_imports_the_app_or_the_tools(graph: ImportGraph) -> None:
    offending = forbidden_imports(graph, CORE, ("policyqa_app", "policyqa_tools"))
    assert not offending, f"{CORE} must not import the app or the tools:\n" + "\n".join(offending)


def test_the_app_never_imports_the_tools(graph: ImportGraph) -> None:
    offending = forbidden_imports(graph, "policyqa_app", ("policyqa_tools",))
    assert not offending, "policyqa_app must not import policyqa_tools:\n" + "\n".join(offending)


def test_faiss_is_imported_only_by_the_index_package(graph: ImportGraph) -> None:
    offending = sorted(
        f"{found.where()}: {found.importer} imports {found.target}"
        for found in graph.imports
        if in_package(found.target, "faiss") and not in_package(found.importer, INDEX_PACKAGE)
    )
    assert not offending, f"faiss belongs to {INDEX_PACKAGE} (or a module under it) only:\n" + "\n".join(offending)
