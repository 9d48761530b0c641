"""One import package: pyproject.toml maps the repository's top-level folders (engine/, tui/,
migrations/, themes/) under `pgferry`, so that `import engine` in another project's environment
never means pgferry. A checkout finds either name (its root is on sys.path); an installed copy
only the mapped one, so these checks stand in for a wheel built and installed."""
from __future__ import annotations

import ast
import tomllib
from pathlib import Path

from tests.support import ROOT

SETUPTOOLS = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
MAPPED = SETUPTOOLS["package-dir"]  # {"pgferry.engine": "engine", ...}
FOLDERS = {folder for folder in MAPPED.values()}


def test_every_code_folder_is_a_package_of_the_wheel():
    """A subpackage missing from `packages` works in the checkout and is absent from the wheel."""
    folders = {".".join((name, *init.parent.relative_to(ROOT / folder).parts))
               for name, folder in MAPPED.items() for init in (ROOT / folder).rglob("__init__.py")}
    assert folders - set(SETUPTOOLS["packages"]) == set()


def imported_modules(path: Path):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module


def test_code_imports_the_folders_only_under_pgferry():
    sources = [p for top in ("pgferry", *FOLDERS, "tests", "bench") for p in sorted((ROOT / top).rglob("*.py"))]
    wrong = [f"{p.relative_to(ROOT)}: import {m}" for p in sources for m in imported_modules(p)
             if m.split(".")[0] in FOLDERS]
    assert wrong == [], "\n".join(wrong)


# The engine's subpackages in data-flow order (docs/design.md §2): each may import those before it
# and the shared modules at the engine's top, never one after it.
LAYERS = ("", "definitions", "bookkeeping", "plan", "privileges", "run", "repair", "upgrade", "server", "fleet")


def engine_imports(path: Path, package: str):
    """(line, absolute module) for every import in an engine module, function-level ones too."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            yield node.lineno, base
        elif isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)


def layer(module: str) -> str | None:
    if not module.startswith("pgferry.engine."):
        return None
    first = module.split(".")[2]
    return first if first in LAYERS else ""


def test_engine_subpackages_import_only_those_before_them():
    engine = ROOT / "engine"
    assert {p.name for p in engine.iterdir() if (p / "__init__.py").exists()} == set(LAYERS[1:])
    wrong = []
    for path in sorted(engine.rglob("*.py")):
        parts = path.relative_to(engine).with_suffix("").parts
        package = ".".join(("pgferry", "engine", *parts[:-1]))
        own = parts[0] if len(parts) > 1 else ""
        for line, module in engine_imports(path, package):
            theirs = layer(module)
            if theirs is not None and LAYERS.index(theirs) > LAYERS.index(own):
                wrong.append(f"engine/{'/'.join(parts)}.py:{line} imports {module}")
    assert wrong == [], "\n".join(wrong)


def package_modules() -> dict[str, Path]:
    """Every module of the package by its import name: pgferry.tui.cli.main -> tui/cli/main.py."""
    roots = {"pgferry": ROOT / "pgferry", **{name: ROOT / folder for name, folder in MAPPED.items()}}
    modules = {}
    for name, root in roots.items():
        for path in root.rglob("*.py"):
            parts = path.relative_to(root).with_suffix("").parts
            modules[".".join((name, *(parts[:-1] if parts[-1] == "__init__" else parts)))] = path
    return modules


def import_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports (function-level imports too: they run all the same).
    `from package import name` points at the submodule when `name` is one."""
    modules = package_modules()
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        edges = graph.setdefault(module, set())
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(parts + ([node.module] if node.module else []))
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            edges |= {t for t in targets if t in modules and t != module}
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                cycles.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return cycles


def test_no_import_cycle_among_the_package_modules():
    """A cycle makes import order matter and a module impossible to read (or test) alone; the
    command line once was one with the terminal UI (19 modules)."""
    assert import_cycles(import_graph()) == []


def test_the_cycle_finder_finds_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert import_cycles(graph) == [["a", "b", "c"]]
