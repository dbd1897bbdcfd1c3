"""One error base for compat (issue 10): every exception class codalab_worker_compat defines
derives from :class:`CompatError`, which knows nothing of aibench_plugins."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import codalab_worker_compat
from codalab_worker_compat import CompatError


def test_every_exception_class_of_compat_derives_from_compat_error() -> None:
    found = {}
    for info in pkgutil.iter_modules(codalab_worker_compat.__path__):
        module = importlib.import_module(f"codalab_worker_compat.{info.name}")
        for name, value in vars(module).items():
            if inspect.isclass(value) and issubclass(value, BaseException) and value.__module__ == module.__name__:
                found[f"{info.name}.{name}"] = value
    assert len(found) >= 8, found
    assert [name for name, cls in found.items() if not issubclass(cls, CompatError)] == []
    assert "aibench" not in inspect.getsource(importlib.import_module("codalab_worker_compat._errors")).split('"""')[2]


def test_no_bare_builtin_error_is_raised_on_purpose() -> None:
    import ast
    from pathlib import Path

    found = []
    for path in sorted(Path(codalab_worker_compat.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and isinstance(node.exc.func, ast.Name) \
                    and node.exc.func.id in {"Exception", "TypeError", "ValueError", "KeyError", "RuntimeError"}:
                found.append(f"{path.name}:{node.lineno} raises {node.exc.func.id}")
    assert found == []
