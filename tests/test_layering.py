"""The package's import order (``docs/architecture.md``, "Layers").

Levels, lowest first::

    0  top-level helpers that import nothing from graphrec (``_version.py``, ...)
    1  graph/, ops/
    2  data/, sampling/, nn/
    3  models/
    4  eval/
    5  train/
    6  experiment.py
    7  cli.py, __main__.py, graphrec/__init__.py

A module imports only from its own folder or a lower level; folders of one level do not import
each other. Every import counts: module level, inside functions, under ``if TYPE_CHECKING:``.
``graphrec/__init__.py`` sits at the top but imports eagerly only level-0 modules (the rest it
re-exports lazily), so importing any part of the package never drags the whole of it in.

Run as a script to check another tree: ``python tests/test_layering.py /path/to/graphrec``.
"""
from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "graphrec"

#: Sub-packages and their level.
FOLDER_LEVELS = {"graph": 1, "ops": 1, "data": 2, "sampling": 2, "nn": 2, "models": 3,
                 "eval": 4, "train": 5}
#: Top-level modules above level 0: (unit, level). A unit is what may import itself freely.
#: ``""`` is ``graphrec/__init__.py``.
TOP_LEVELS = {"experiment": ("experiment", 6), "presets": ("experiment", 6), "cli": ("cli", 7),
              "serve": ("cli", 7), "__main__": ("cli", 7),
              "": ("cli", 7)}
BOTTOM = 0


@dataclass(frozen=True)
class Import:
    module: str  # importing module, dotted
    path: str  # its file, relative to the package's parent
    line: int
    target: str  # imported graphrec module (dotted; the longest existing prefix)
    text: str  # the import statement
    eager: bool  # runs at import time (module level, not under TYPE_CHECKING)


def package_modules(package: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every ``.py`` under ``package``."""
    modules = {}
    for file in sorted(package.rglob("*.py")):
        parts = list(file.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = file
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _resolve(name: str, modules: dict[str, Path]) -> str:
    """The longest prefix of ``name`` that is a module of the package."""
    parts = name.split(".")
    while parts and ".".join(parts) not in modules:
        parts.pop()
    return ".".join(parts) if parts else name


def _imports(node: ast.AST, eager: bool):
    """(import statement, eager) for every import under ``node``; imports inside functions
    and under ``if TYPE_CHECKING:`` are not eager."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.Import | ast.ImportFrom):
            yield child, eager
        elif isinstance(child, ast.If) and _is_type_checking(child.test):
            for stmt in child.body:
                yield from _imports(ast.Module(body=[stmt], type_ignores=[]), False)
            for stmt in child.orelse:
                yield from _imports(ast.Module(body=[stmt], type_ignores=[]), eager)
        else:
            inner = eager and not isinstance(
                child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            yield from _imports(child, inner)


def graphrec_imports(package: Path) -> list[Import]:
    """Every import of a ``graphrec`` module by a module under ``package``."""
    modules = package_modules(package)
    root = package.name
    found: list[Import] = []
    for module, file in modules.items():
        is_package = file.name == "__init__.py"
        rel = file.relative_to(package.parent).as_posix()
        tree = ast.parse(file.read_text(encoding="utf-8"), filename=rel)
        for stmt, eager in _imports(tree, True):
            if isinstance(stmt, ast.Import):
                names = [alias.name for alias in stmt.names]
            else:
                if stmt.level:  # relative: resolve against the importing module's package
                    base = module.split(".") if is_package else module.split(".")[:-1]
                    base = base[: len(base) - (stmt.level - 1)]
                    source = ".".join(base + ([stmt.module] if stmt.module else []))
                else:
                    source = stmt.module or ""
                # `from graphrec import models` imports the sub-package models
                names = [f"{source}.{alias.name}" if f"{source}.{alias.name}" in modules
                         else source for alias in stmt.names]
            for name in dict.fromkeys(names):
                if name == root or name.startswith(root + "."):
                    found.append(Import(module, rel, stmt.lineno, _resolve(name, modules),
                                        ast.unparse(stmt), eager))
    return found


def unit_of(module: str, modules: dict[str, Path]) -> tuple[str, int | None]:
    """(unit, level) of a dotted module; level ``None``: no level declared."""
    parts = module.split(".")
    if len(parts) == 1:
        return TOP_LEVELS[""]
    name = parts[1]
    if name in TOP_LEVELS:
        return TOP_LEVELS[name]
    is_folder = any(m.startswith(f"{parts[0]}.{name}.") for m in modules) or (
        modules.get(f"{parts[0]}.{name}", Path()).name == "__init__.py")
    if is_folder:
        return name, FOLDER_LEVELS.get(name)
    return name, BOTTOM  # a top-level helper module


def layering_violations(package: Path = PACKAGE) -> list[str]:
    """One line per import against the order (empty when the package follows it)."""
    modules = package_modules(package)
    problems = []
    for imp in graphrec_imports(package):
        where = f"{imp.path}:{imp.line}: `{imp.text}`"
        unit, level = unit_of(imp.module, modules)
        target_unit, target_level = unit_of(imp.target, modules)
        if level is None:
            problems.append(f"{where}: folder {unit}/ has no level; add it to FOLDER_LEVELS "
                            "in tests/test_layering.py and to docs/architecture.md")
            continue
        if target_level is None:
            problems.append(f"{where}: imports folder {target_unit}/, which has no level")
            continue
        if imp.module == package.name and imp.eager and target_level != BOTTOM:
            problems.append(f"{where}: graphrec/__init__.py imports {imp.target} eagerly; "
                            "re-export it lazily (module __getattr__)")
            continue
        if unit == target_unit:
            continue
        if target_level > level or (target_level == level):
            relation = "a higher" if target_level > level else "the same"
            hint = (" (a top-level module that imports graphrec is not level 0: give it a "
                    "level in TOP_LEVELS)" if level == BOTTOM else "")
            problems.append(f"{where}: {unit} (level {level}) imports {target_unit} "
                            f"(level {target_level}), {relation} level{hint}")
    return problems


def folder_cycles(package: Path = PACKAGE) -> list[str]:
    """Cycles in the graph unit -> imported unit (each as ``a -> b -> a`` with the imports)."""
    modules = package_modules(package)
    edges: dict[str, dict[str, Import]] = {}
    for imp in graphrec_imports(package):
        source, target = unit_of(imp.module, modules)[0], unit_of(imp.target, modules)[0]
        if source != target:
            edges.setdefault(source, {}).setdefault(target, imp)
    cycles, state = [], {}

    def dfs(unit: str, path: list[str]) -> None:
        state[unit] = "open"
        for nxt in sorted(edges.get(unit, {})):
            if state.get(nxt) == "open":
                loop = path[path.index(nxt):] + [nxt]
                steps = [f"{a} -> {b} ({edges[a][b].path}:{edges[a][b].line})"
                         for a, b in zip(loop, loop[1:], strict=False)]
                cycles.append(" -> ".join(loop) + ": " + "; ".join(steps))
            elif nxt not in state:
                dfs(nxt, path + [nxt])
        state[unit] = "done"

    for unit in sorted(edges):
        if unit not in state:
            dfs(unit, [unit])
    return cycles


def test_package_follows_the_import_order():
    problems = layering_violations()
    assert not problems, "imports against the layer order:\n" + "\n".join(problems)


def test_no_cycle_between_folders():
    cycles = folder_cycles()
    assert not cycles, "import cycles between folders:\n" + "\n".join(cycles)


def test_every_folder_has_a_level():
    folders = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    assert folders == set(FOLDER_LEVELS), (
        f"folders without a level: {sorted(folders - set(FOLDER_LEVELS))}; "
        f"levels without a folder: {sorted(set(FOLDER_LEVELS) - folders)}")


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / "graphrec" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / "graphrec"


def test_checker_reports_module_line_and_import(tmp_path):
    package = _write(tmp_path, {
        "__init__.py": "from graphrec._version import v\nfrom graphrec.models import M\n"
                       "def __getattr__(name):\n    from graphrec.cli import main\n",
        "_version.py": "v = 1\n",
        "helpers.py": "import graphrec.graph\n",
        "cli.py": "from graphrec import _version\nfrom graphrec.train import fit\n",
        "graph/__init__.py": "",
        "graph/build.py": "import torch\n\ndef f():\n    from graphrec.sampling.walks import W\n",
        "ops/__init__.py": "",
        "ops/sparse.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                         "    from graphrec.graph.build import X\n",
        "sampling/__init__.py": "",
        "sampling/walks.py": "from graphrec.graph.build import X\n",
        "nn/__init__.py": "",
        "data/__init__.py": "",
        "models/__init__.py": "M = 1\n",
        "models/base.py": "from ..train import losses\nfrom . import other\n",
        "models/other.py": "",
        "eval/__init__.py": "",
        "train/__init__.py": "from graphrec.models.base import M\nfit = 1\n",
        "train/losses.py": "",
        "extra/__init__.py": "from graphrec.graph import build\n",
    })
    problems = layering_violations(package)
    expected = [
        "graphrec/__init__.py:2: `from graphrec.models import M`: graphrec/__init__.py imports "
        "graphrec.models eagerly",
        "graphrec/helpers.py:1: `import graphrec.graph`: helpers (level 0) imports graph "
        "(level 1), a higher level",
        "graphrec/graph/build.py:4: `from graphrec.sampling.walks import W`: graph (level 1) "
        "imports sampling (level 2), a higher level",
        "graphrec/ops/sparse.py:3: `from graphrec.graph.build import X`: ops (level 1) imports "
        "graph (level 1), the same level",
        "graphrec/models/base.py:1: `from ..train import losses`: models (level 3) imports "
        "train (level 5), a higher level",
        "graphrec/extra/__init__.py:1: `from graphrec.graph import build`: folder extra/ has "
        "no level",
    ]
    for message in expected:
        assert any(p.startswith(message) for p in problems), (message, problems)
    assert len(problems) == len(expected), problems
    cycles = folder_cycles(package)
    assert any(c.startswith("models -> train -> models") for c in cycles), cycles


if __name__ == "__main__":
    target = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else PACKAGE
    found = layering_violations(target) + folder_cycles(target)
    print("\n".join(found) or "no violations")
    sys.exit(1 if found else 0)
