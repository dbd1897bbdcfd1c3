"""Copying the runtime and the manifest's third-party plugins into a wrapped program's
``_aibench/lib`` (zipped as ``lib.zip`` by :func:`zip_lib`), pure-Python code only.

A worker runs the wrapped program in the platform's image with no network and no
``pip install``: everything the runtime imports must either be in that image or be copied
here. The platforms' default images (``codalab-contract.md`` §6) have numpy, pandas,
scipy, scikit-learn and PyYAML; everything else is copied, with its ``.dist-info`` (so
plugin entry points are found on ``sys.path``). A distribution with compiled code, or
one whose files cannot be listed, cannot be vendored and the wrap is refused.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import shutil
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from ..core.errors import VendorError
from ..runtime.lib import COMPILED as _COMPILED, LEFT_OUT as _LEFT_OUT, absolute_module as _absolute, \
    compile_lib as _compile, ingestion_closure, refuse_compiled as _refuse_compiled, \
    runtime_imports as _runtime_imports, vendor_ingestion, zip_lib

__all__ = ["HOST_ONLY_ROOMS", "PROVIDED_BY_IMAGE", "RUNTIME_PACKAGES", "RUNTIME_ROOMS", "RUNTIME_TOP", "Edge",
           "Vendored", "ingestion_closure", "vendor", "vendor_ingestion", "zip_lib"]

if TYPE_CHECKING:
    from .image import TargetImage

#: What the platforms' default images provide (§6): not copied, imported from the image.
PROVIDED_BY_IMAGE = frozenset({"numpy", "pandas", "scipy", "scikit-learn", "pyyaml"})
#: The runtime's dependencies, copied whole: import package -> distribution.
RUNTIME_PACKAGES = {"codalab_worker_compat": "codalab-worker-compat", "pluggy": "pluggy", "packaging": "packaging"}
#: The rooms of aibench_plugins the wrapped runtime needs, and nothing else (an allow-list: a new
#: room, a Ray or Kubernetes executor say, is never copied into a bundle unless named here).
#: tests/wrap/test_vendor.py checks that this is exactly what the runtime imports.
RUNTIME_ROOMS = ("core", "components", "manifest", "data", "complexity", "evaluation", "runtime", "default_plugins",
                 "stats", "schemas")
#: The files at the package's top that the rooms need (the lazy public face and the version).
RUNTIME_TOP = ("__init__.py", "_version.py", "py.typed")
#: Host-only rooms: never vendored (run/, wrap/, executors/, testing/, cli/, leaderboard/, __main__.py).
HOST_ONLY_ROOMS = ("run", "wrap", "executors", "testing", "cli", "leaderboard")
#: Files of a distribution's .dist-info that are not shipped in a wrapped bundle.
_NOT_SHIPPED = frozenset({"direct_url.json"})


@dataclass(frozen=True)
class Edge:
    """One requirement of a vendored distribution: ``needed_by`` (canonical name, with its
    ``version``) requires ``requirement``; ``needed_by`` is ``None`` for a plugin the manifest names."""

    needed_by: str | None
    version: str | None
    requirement: Requirement


@dataclass
class Vendored:
    """What :func:`vendor` copied (``copied``: canonical name -> version) and every requirement
    it followed, so that they can be checked against the image (:mod:`.image_fit`)."""

    copied: dict[str, str]
    edges: list[Edge]
    plugins: list[str]

    def to_json(self) -> list[dict[str, str]]:
        return [{"name": name, "version": version} for name, version in sorted(self.copied.items())]


def vendor(lib: Path, plugin_distributions: Sequence[str], image: TargetImage | None = None) -> Vendored:
    """Copy the runtime and ``plugin_distributions`` (with their requirements, evaluated for the
    image's Python) into ``lib``; a requirement the image provides is not copied. Without
    ``image``, the image is one that provides :data:`PROVIDED_BY_IMAGE`."""
    lib.mkdir(parents=True, exist_ok=True)
    provided = image.provides if image is not None else (lambda name: canonicalize_name(name) in PROVIDED_BY_IMAGE)
    environment = image.marker_environment() if image is not None else {"extra": ""}
    copied: dict[str, str] = {"aibench-plugins": _copy_runtime_rooms(lib)}
    for package, distribution in RUNTIME_PACKAGES.items():
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise VendorError(f"{package} is not importable here; install {distribution}")
        source = Path(next(iter(spec.submodule_search_locations)))
        shutil.copytree(source, lib / package, ignore=_LEFT_OUT)
        _refuse_compiled(distribution, (p for p in (lib / package).rglob("*") if p.is_file()))
        copied[canonicalize_name(distribution)] = importlib.metadata.version(distribution)
    edges = [Edge(None, None, Requirement(name)) for name in plugin_distributions]
    pending = list(edges)
    plugins = [str(canonicalize_name(name)) for name in plugin_distributions]
    while pending:
        name = canonicalize_name(pending.pop(0).requirement.name)
        if name in copied or provided(name):
            continue
        copied[name] = _copy_distribution(name, lib)
        needs = [Edge(name, copied[name], r) for r in _requirements(name, environment)]
        edges += needs
        pending += needs
    if image is not None and image.python and Version(image.python).release[:2] == sys.version_info[:2]:
        _compile(lib)
    return Vendored(copied, edges, plugins)


def _copy_runtime_rooms(lib: Path) -> str:
    """Copy exactly :data:`RUNTIME_ROOMS` and :data:`RUNTIME_TOP` of aibench_plugins; refused when a
    vendored module imports a host-only room (the import would fail on the worker)."""
    import ast

    source = Path(__file__).resolve().parents[1]
    target = lib / "aibench_plugins"
    target.mkdir(parents=True, exist_ok=True)
    for name in RUNTIME_TOP:
        shutil.copy2(source / name, target / name)
    for room in RUNTIME_ROOMS:
        shutil.copytree(source / room, target / room, ignore=_LEFT_OUT)
    host_only = tuple(f"aibench_plugins.{room}" for room in HOST_ONLY_ROOMS)
    for path in sorted(target.rglob("*.py")):
        package = ".".join(("aibench_plugins", *path.relative_to(target).parent.parts))
        for node in _runtime_imports(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [_absolute(package, node)]
            bad = [n for n in names if n == "aibench_plugins.__main__" or n.startswith(host_only)
                   and n.split(".")[1] in HOST_ONLY_ROOMS]
            if bad:
                raise VendorError(f"{path.relative_to(target.parent)} imports {bad[0]}, a host-only room: it cannot "
                                  "be vendored into a wrapped bundle (aibench_plugins.wrap.vendor.RUNTIME_ROOMS)")
    _refuse_compiled("aibench-plugins", (p for p in target.rglob("*") if p.is_file()))
    return importlib.metadata.version("aibench-plugins")


def _copy_distribution(name: str, lib: Path) -> str:
    try:
        distribution = importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        raise VendorError(f"{name} is needed by the bundle's plugins but is not installed here; install it, "
                          "then wrap again") from None
    files = distribution.files
    if files is None:
        raise VendorError(f"{name} {distribution.version} does not list its files (no RECORD): it cannot be copied "
                          "into the bundle; reinstall it with pip")
    inside = [f for f in files if not str(f).startswith("..") and "__pycache__" not in f.parts
              and not _left_out_of_metadata(f)]
    _refuse_compiled(name, (Path(str(f)) for f in inside))
    for file in inside:
        source = Path(str(file.locate()))
        if source.is_file():
            target = lib / str(file)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return distribution.version


def _left_out_of_metadata(file: Any) -> bool:
    """``*.dist-info/direct_url.json``: where pip installed the distribution from on this machine
    (a local wheel's path, PEP 610); it means nothing on the worker and names a local path."""
    return len(file.parts) == 2 and file.parts[0].endswith(".dist-info") and file.name in _NOT_SHIPPED


def _requirements(name: str, environment: dict[str, str]) -> list[Requirement]:
    """What ``name`` needs at run time in ``environment`` (its requirements without extras)."""
    needed = []
    for text in importlib.metadata.requires(name) or []:
        requirement = Requirement(text)
        if requirement.marker is None or requirement.marker.evaluate(environment):
            needed.append(requirement)
    return needed
