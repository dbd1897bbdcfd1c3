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

if TYPE_CHECKING:
    from .image import TargetImage

#: What the platforms' default images provide (§6): not copied, imported from the image.
PROVIDED_BY_IMAGE = frozenset({"numpy", "pandas", "scipy", "scikit-learn", "pyyaml"})
#: The runtime's dependencies, copied whole: import package -> distribution.
RUNTIME_PACKAGES = {"codalab_worker_compat": "codalab-worker-compat", "pluggy": "pluggy", "packaging": "packaging"}
#: The rooms of aibench_plugins the wrapped runtime needs, and nothing else (an allow-list: a new
#: room, a Ray or Kubernetes executor say, is never copied into a bundle unless named here).
#: tests/wrap/test_vendor.py checks that this is exactly what the runtime imports.
RUNTIME_ROOMS = ("core", "components", "manifest", "data", "evaluation", "runtime", "default_plugins", "stats",
                 "schemas")
#: The files at the package's top that the rooms need (the lazy public face and the version).
RUNTIME_TOP = ("__init__.py", "_version.py", "py.typed")
#: Host-only rooms: never vendored (run/, wrap/, executors/, testing/, cli/, leaderboard/, __main__.py).
HOST_ONLY_ROOMS = ("run", "wrap", "executors", "testing", "cli", "leaderboard")
_LEFT_OUT = shutil.ignore_patterns("__pycache__", "*.pyc")
_COMPILED = (".so", ".pyd", ".dylib", ".dll")
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


def vendor_ingestion(lib: Path, image: TargetImage | None = None, *, perturbations: bool = False) -> None:
    """Copy into ``lib`` what a wrapped ingestion program's runtime imports, and nothing else:
    :data:`aibench_plugins.runtime.ingest.MODULES`, standard library only (the prediction step is
    on every submission's critical path: a worker unpacks and Python imports these few files in
    milliseconds, where the scoring runtime's ``lib`` is hundreds); with ``perturbations`` (the
    manifest declares input perturbations), :data:`~aibench_plugins.runtime.ingest.PERTURBATION_MODULES` too."""
    from ..runtime.ingest import MODULES, PERTURBATION_MODULES

    source = Path(__file__).resolve().parents[1]
    for name in (*MODULES, *(PERTURBATION_MODULES if perturbations else ())):
        (lib / "aibench_plugins" / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / name, lib / "aibench_plugins" / name)
    if image is not None and image.python and Version(image.python).release[:2] == sys.version_info[:2]:
        _compile(lib)


def _compile(lib: Path) -> None:
    """Byte-compile ``lib`` for this Python (the image's minor version): Python imports a wrapped
    program's ``lib.zip`` with zipimport, which never writes bytecode, so without them every run
    compiles every module again (0.3 s of CPU per scoring step measured, docs/wrap.md). Legacy
    layout (``x.pyc`` beside ``x.py``), the only one zipimport reads; unchecked hash-based pycs
    (PEP 552): a zip keeps mtimes only to 2 s, and source and bytecode are written together,
    once, by ``aibench wrap``."""
    import compileall
    import py_compile

    compileall.compile_dir(str(lib), quiet=2, legacy=True, workers=1,
                           invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)


def zip_lib(lib: Path, target: Path) -> None:
    """``lib`` as one zip, ``target`` (``_aibench/lib.zip``), which ``run.py`` puts on ``sys.path``:
    a worker unpacks a fresh copy of each program for every submission, and one member unpacks
    in no time where the ~500 files of ``lib/`` took 0.1 to 0.15 s (docs/wrap.md)."""
    import zipfile

    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in lib.rglob("*") if p.is_file()):
            archive.write(path, path.relative_to(lib).as_posix())


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


def _runtime_imports(tree: Any) -> list[Any]:
    """The import statements of a module that run (not those under ``if TYPE_CHECKING:``)."""
    import ast

    found, pending = [], list(ast.iter_child_nodes(tree))
    while pending:
        node = pending.pop()
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            pending += node.orelse
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        pending += ast.iter_child_nodes(node)
    return found


def _absolute(package: str, node: Any) -> str:
    if not node.level:
        return str(node.module or "")
    base = package.split(".")[: len(package.split(".")) - node.level + 1]
    return ".".join([*base, *([node.module] if node.module else [])])


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


def _refuse_compiled(name: str, paths: Iterable[Path]) -> None:
    compiled = sorted(str(p) for p in paths if p.name.endswith(_COMPILED))
    if compiled:
        raise VendorError(f"{name} contains compiled code ({', '.join(compiled[:3])}): a wrapped bundle carries "
                          "pure-Python code only, because the platform's image cannot install anything. Use a "
                          "pure-Python plugin, or run the bundle with 'aibench run' in an image that has it")
