"""A job's code dependencies, derived from imports: never typed.

The code a job runs is the CLI module (what its top level imports) and its kind's entry module, plus
what the registries resolve for that job at run time (the model module it builds, its dataset's
adapter, its method's ticket function), each with every project module they import, transitively:
imports inside functions count (they run when the function runs), imports under `if TYPE_CHECKING:`
do not, and importing a module runs its packages' __init__.py. The registries import model, adapter
and method modules by name when one is used, so a MesoNet job's closure holds models/mesonet.py and
not models/resnet18.py. DVC lists these files as each stage's deps: an edit re-runs exactly the stages
whose code it is.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

PACKAGE = "deepfake_lth"
SOURCE_ROOT = Path(__file__).resolve().parent.parent  # src/
CLI = f"{PACKAGE}.cli"
PACKAGE_DIR = str(Path(__file__).resolve().parent.relative_to(SOURCE_ROOT.parent))  # src/deepfake_lth


def module_file(module: str) -> Path | None:
    """The source file of a project module (a package: its __init__.py); None outside the project."""
    if module != PACKAGE and not module.startswith(f"{PACKAGE}."):
        return None
    base = SOURCE_ROOT.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _import_nodes(tree: ast.AST, top_level_only: bool):
    stack = list(tree.body) if top_level_only else [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
        elif not top_level_only:
            stack.extend(ast.iter_child_nodes(node))


@functools.lru_cache(maxsize=None)
def direct_imports(module: str, top_level_only: bool = False) -> tuple[str, ...]:
    """The project modules `module` imports (`from pkg import name` counts pkg.name when it is a module)."""
    path = module_file(module)
    tree = ast.parse(path.read_text(), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in _import_nodes(tree, top_level_only):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
            continue
        base = node.module or ""
        if node.level:  # relative: from .x import y
            base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
        found.append(base)
        found += [f"{base}.{alias.name}" for alias in node.names if module_file(f"{base}.{alias.name}")]
    return tuple(m for m in dict.fromkeys(found) if m.split(".")[0] == PACKAGE)


def _with_packages(module: str) -> list[str]:
    """The module and the packages above it, whose __init__.py an import runs."""
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def closure(*modules: str) -> set[str]:
    """Every project module the given modules import, transitively, with themselves and their packages."""
    seen: set[str] = set()
    todo = [m for module in modules for m in _with_packages(module)]
    while todo:
        module = todo.pop()
        if module in seen or not module_file(module):
            continue
        seen.add(module)
        todo += [m for imported in direct_imports(module) for m in _with_packages(imported)]
    return seen


@functools.lru_cache(maxsize=None)
def job_code(entry: str, resolved: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The source files (relative to the project root, sorted) of a job running `entry` through the CLI,
    with the `resolved` modules its registries import for it."""
    cli = [m for imported in direct_imports(CLI, top_level_only=True) for m in _with_packages(imported)]
    modules = {CLI, *closure(*cli), *closure(entry, *resolved)}
    root = SOURCE_ROOT.parent
    return tuple(sorted(str(module_file(m).relative_to(root)) for m in modules))
