"""Tests for the ``utils`` package itself: the right copy is imported, names are documented and tested."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import pytest

import utils

REPO_ROOT = Path(__file__).resolve().parent.parent
TESTS_DIR = Path(__file__).resolve().parent
SUBMODULES = sorted(
    m.name.removeprefix("utils.")
    for m in pkgutil.walk_packages(utils.__path__, prefix="utils.")
    if not any(part.startswith("_") for part in m.name.split("."))
)


def _has_own_docstring(obj: object) -> bool:
    doc = inspect.getdoc(obj)
    if not doc or not doc.strip():
        return False
    if inspect.isclass(obj):  # dataclasses invent "Name(field, ...)" when the docstring is missing
        return "__doc__" in vars(obj) and not doc.startswith(f"{obj.__name__}(")
    return True


def _documented_constant(name: str) -> bool:
    """A module-level constant is documented by a ``#:`` comment right above its assignment."""
    pattern = re.compile(rf"^#:.*\n(#:.*\n)*{re.escape(name)}\s*[:=]", re.MULTILINE)
    return any(pattern.search(p.read_text()) for p in Path(utils.__file__).parent.rglob("*.py"))


def _public_names(module) -> list[str]:
    """Functions and classes defined (not imported) in ``module`` whose names do not start with _."""
    return [
        name
        for name, obj in vars(module).items()
        if not name.startswith("_")
        and (inspect.isfunction(obj) or inspect.isclass(obj))
        and obj.__module__ == module.__name__
    ]


def test_imported_utils_is_this_repositorys():
    assert Path(utils.__file__).resolve().parent == REPO_ROOT / "utils"


def test_package_and_submodules_have_docstrings():
    assert utils.__doc__ and utils.__doc__.strip()
    for name in SUBMODULES:
        module = importlib.import_module(f"utils.{name}")
        assert module.__doc__ and module.__doc__.strip(), name


def test_every_exported_name_exists_and_is_documented():
    assert len(utils.__all__) == len(set(utils.__all__)), "duplicate names in __all__"
    for name in utils.__all__:
        assert hasattr(utils, name), f"utils.__all__ lists {name!r}, which utils does not define"
        obj = getattr(utils, name)
        if callable(obj):
            assert _has_own_docstring(obj), f"utils.{name} has no docstring"
        else:
            assert _documented_constant(name), f"utils.{name} has no '#:' doc comment"


def test_star_import_gives_exactly_all():
    namespace: dict = {}
    exec("from utils import *", namespace)
    assert {n for n in namespace if n != "__builtins__"} == set(utils.__all__)


@pytest.mark.parametrize("submodule", SUBMODULES)
def test_public_functions_and_methods_have_docstrings(submodule):
    module = importlib.import_module(f"utils.{submodule}")
    for name in _public_names(module):
        obj = getattr(module, name)
        assert _has_own_docstring(obj), f"utils.{submodule}.{name} has no docstring"
        if inspect.isclass(obj):
            for attr, member in vars(obj).items():
                if attr.startswith("_") or not (inspect.isfunction(member) or isinstance(member, property)):
                    continue
                assert inspect.getdoc(member), f"utils.{submodule}.{name}.{attr} has no docstring"


def test_every_public_function_and_class_is_used_in_a_test():
    """The style rule "every public function has a test", checked by name over the test files."""
    sources = "\n".join(
        p.read_text() for p in sorted(TESTS_DIR.glob("test_*.py")) if p.name != Path(__file__).name
    )
    names = {
        f"utils.{sub}.{n}": n
        for sub in SUBMODULES
        for n in _public_names(importlib.import_module(f"utils.{sub}"))
    }
    names |= {f"utils.{n}": n for n in utils.__all__}
    untested = sorted(full for full, n in names.items() if not re.search(rf"\b{re.escape(n)}\b", sources))
    assert not untested, f"no test mentions: {untested}"


def _utils_imports(path: Path) -> set[str]:
    """The ``utils.*`` modules a file imports at module level (not inside functions)."""
    tree = ast.parse(path.read_text())
    found = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("utils"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("utils"))
    return found


def test_utils_modules_import_each_other_without_a_cycle():
    root = Path(utils.__file__).parent
    graph = {}
    for path in root.rglob("*.py"):
        parts = path.relative_to(root.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        graph[name] = {m for m in _utils_imports(path) if m != name}
    graph["utils"] = set()  # the package's __init__ only gathers the API
    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in path:
            raise AssertionError("import cycle: " + " -> ".join((*path[path.index(name) :], name)))
        if name in done:
            return
        for dep in graph.get(name, ()):
            visit(dep, (*path, name))
        done.add(name)

    for name in graph:
        visit(name, ())


def test_the_package_exports_the_core_api_only():
    checkers = [name for name in utils.__all__ if name.startswith("check_")]
    assert not checkers, f"checkers belong in utils.checks.<chapter>, not utils: {checkers}"
