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
LAYERS = ("", "definitions", "bookkeeping", "plan", "privileges", "run", "repair", "upgrade")


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
