"""The one error tree (issue 10): every exception class aibench_plugins defines is an AibenchError,
the tree is drawn in core/errors.py, and no module raises a bare built-in error on purpose."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import aibench_plugins
from aibench_plugins import AibenchError
from aibench_plugins.core import errors

PACKAGE = Path(aibench_plugins.__file__).parent
#: (AttributeError is the contract of a module's __getattr__, which the lazy faces raise)
BUILTIN = {"Exception", "TypeError", "ValueError", "KeyError", "RuntimeError", "LookupError"}
#: raised and caught inside one function's module, never reaching a caller
INTERNAL = {("runtime/measurements.py", "ValueError")}


def _modules() -> list[str]:
    return [m.name for m in pkgutil.walk_packages(aibench_plugins.__path__, "aibench_plugins.")
            if ".cli" not in m.name and not m.name.endswith("__main__")]


def test_every_exception_class_is_in_the_tree_and_drawn() -> None:
    outside = []
    for name in _modules():
        module = importlib.import_module(name)
        for attr, value in vars(module).items():
            if inspect.isclass(value) and issubclass(value, BaseException) and value.__module__ == name \
                    and not issubclass(value, AibenchError) and not attr.startswith("_"):
                outside.append(f"{name}.{attr}")
    assert outside == []
    drawn = errors.__doc__ or ""
    assert all(cls.__name__ in drawn for cls in vars(errors).values()
               if inspect.isclass(cls) and issubclass(cls, AibenchError) and cls.__module__ == errors.__name__)


def test_no_bare_builtin_error_is_raised_on_purpose() -> None:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = str(path.relative_to(PACKAGE))
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and isinstance(node.exc.func, ast.Name) \
                    and node.exc.func.id in BUILTIN and (rel, node.exc.func.id) not in INTERNAL:
                found.append(f"{rel}:{node.lineno} raises {node.exc.func.id}")
    assert found == []
