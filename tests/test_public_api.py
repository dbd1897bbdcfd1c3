"""The public face (issue 10): ``__all__`` names what users and plugin authors call (running a
bundle, wrapping one, the reporter interface, the stateful metric bases), every name resolves,
the face stays lazy, and the built-in plugins use only public names, so that they are examples
an author can copy."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import aibench_plugins

PACKAGE = Path(aibench_plugins.__file__).parent
BUILTINS = sorted(p for p in (PACKAGE / "default_plugins").rglob("*.py"))


def test_all_names_what_users_and_authors_call() -> None:
    wanted = {"run_bundle", "RunReport", "wrap_bundle", "WrapReport", "validate_bundle", "Reporter", "Section",
              "MetricStateBase", "StatefulMetric", "MetricFactory", "metric", "check", "hookimpl", "AibenchError",
              "EvaluationSession", "HostExecutor", "ExecutorInfo"}
    assert wanted <= set(aibench_plugins.__all__)
    assert all(getattr(aibench_plugins, name) is not None for name in aibench_plugins.__all__)


def test_importing_the_face_imports_nothing_else() -> None:
    code = ("import sys, aibench_plugins; print(sorted(m for m in sys.modules if m.startswith('aibench_plugins')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['aibench_plugins', 'aibench_plugins._version']"


@pytest.mark.parametrize("path", BUILTINS, ids=[str(p.relative_to(PACKAGE)) for p in BUILTINS])
def test_builtin_plugins_use_only_public_names(path: Path) -> None:
    tree = ast.parse(path.read_text())
    private = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            inside = node.level > 0 and (node.level == 1 or path.parent.name != "default_plugins" and node.level == 2
                                         and path.parent.parent.name == "default_plugins")
            if inside:  # a sibling module of the same plugin
                continue
            if module in ("aibench_plugins.data", "aibench_plugins.stats", "aibench_plugins.complexity"):  # the rooms' faces
                private += [f"line {node.lineno}: {a.name}" for a in node.names
                            if a.name not in importlib.import_module(module).__all__]
                continue
            if node.level > 0 or module.startswith("aibench_plugins."):
                private.append(f"line {node.lineno}: from {'.' * node.level}{module} import ...")
            elif module == "aibench_plugins":
                private += [f"line {node.lineno}: {a.name}" for a in node.names
                            if a.name not in aibench_plugins.__all__ and a.name not in ("data", "stats", "complexity")]
    assert not private, f"{path.name} uses private names: {private}"
