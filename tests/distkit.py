"""Throwaway plugin distributions for the tests that install plugins as users get them: a source
folder with its ``pyproject.toml`` (setuptools, one ``py-modules`` entry per module, the
``aibench`` entry points, the dependencies) and its modules, then ``pip install --target`` into a
folder that a test puts on ``PYTHONPATH``. Nothing is downloaded: pip builds with this
environment's setuptools (``--no-build-isolation --no-index``) and installs no dependency."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

__all__ = ["install_distribution", "pip_install", "pyproject", "write_distribution"]


def pyproject(name: str, version: str, modules: Sequence[str], *, entry_points: Mapping[str, str] | None = None,
              dependencies: Sequence[str] = ()) -> str:
    """The ``pyproject.toml`` of distribution ``name``: ``entry_points`` maps each ``aibench``
    entry point to its module (``None``: one, named as the distribution, to its first module;
    empty: a distribution that is no plugin); ``dependencies`` as PEP 508 requirement strings."""
    points = {name: modules[0]} if entry_points is None else dict(entry_points)
    lines = ["[build-system]", 'requires = ["setuptools>=77"]', 'build-backend = "setuptools.build_meta"', "",
             "[project]", f"name = {json.dumps(name)}", f"version = {json.dumps(version)}"]
    if dependencies:
        lines.append(f"dependencies = {json.dumps(list(dependencies))}")
    if points:
        lines += ["", "[project.entry-points.aibench]", *(f"{key} = {json.dumps(module)}"
                                                           for key, module in points.items())]
    lines += ["", "[tool.setuptools]", f"py-modules = {json.dumps(list(modules))}"]
    return "\n".join(lines) + "\n"


def write_distribution(folder: Path, name: str, modules: Mapping[str, str], *, version: str = "0.1.0",
                       entry_points: Mapping[str, str] | None = None, dependencies: Sequence[str] = ()) -> Path:
    """Write the source of distribution ``name`` into ``folder`` (made if missing): its
    ``pyproject.toml`` (see :func:`pyproject`) and one ``<module>.py`` per item of ``modules``
    (module name: source text). Returns ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pyproject.toml").write_text(pyproject(name, version, list(modules), entry_points=entry_points,
                                                     dependencies=dependencies))
    for module, text in modules.items():
        (folder / f"{module}.py").write_text(text)
    return folder


def pip_install(site: Path, *sources: Path) -> Path:
    """pip-install the distributions of the ``sources`` folders into ``site``, offline and without
    their dependencies; the test fails with pip's output when pip does. Returns ``site``."""
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--isolated", "--disable-pip-version-check",
                           "--no-input", "--no-build-isolation", "--no-index", "--no-deps", "--target", str(site),
                           *map(str, sources)], capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        pytest.fail(f"pip could not install {', '.join(s.name for s in sources)}:\n{done.stdout}\n{done.stderr}")
    return site


def install_distribution(site: Path, sources: Path, name: str, modules: Mapping[str, str], *,
                         version: str = "0.1.0", entry_points: Mapping[str, str] | None = None,
                         dependencies: Sequence[str] = ()) -> Path:
    """:func:`write_distribution` into ``sources / name``, then :func:`pip_install` it into
    ``site``. Returns ``site``."""
    folder = write_distribution(sources / name, name, modules, version=version, entry_points=entry_points,
                                dependencies=dependencies)
    return pip_install(site, folder)
