"""Building a wrapped ingestion program's ``lib`` (``_aibench/lib.zip``): exactly what its runtime
imports (:data:`.ingest.MODULES`, and more when the manifest declares input perturbations or
complexity meters), shared by ``aibench wrap`` (:mod:`aibench_plugins.wrap.vendor`) and ``aibench
run``, which gives an unwrapped bundle's ingestion program the same lib for its complexity meters
(:mod:`aibench_plugins.run.complexity`). Host side only: it copies files of this installation.
"""

from __future__ import annotations

import importlib
import importlib.util
import shutil
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.errors import VendorError

if TYPE_CHECKING:
    from ..wrap.image import TargetImage

__all__ = ["COMPILED", "LEFT_OUT", "PACKAGE", "absolute_module", "compile_lib", "ingestion_closure", "refuse_compiled",
           "runtime_imports", "vendor_ingestion", "zip_lib"]

#: the aibench_plugins package of this installation
PACKAGE = Path(__file__).resolve().parents[1]
LEFT_OUT = shutil.ignore_patterns("__pycache__", "*.pyc")
COMPILED = (".so", ".pyd", ".dylib", ".dll")


def _same_minor(version: str) -> bool:
    """Whether ``version`` (``3.12`` or ``3.12.4``) is this Python's minor version."""
    parts = version.split(".")
    try:
        return tuple(int(p) for p in parts[:2]) == sys.version_info[:2]
    except ValueError:
        return False


def vendor_ingestion(lib: Path, image: TargetImage | None = None, *, perturbations: bool = False,
                     meters: Sequence[str] | None = None, uses: Sequence[str] = ()) -> None:
    """Copy into ``lib`` what a wrapped ingestion program's runtime imports, and nothing else:
    :data:`aibench_plugins.runtime.ingest.MODULES`, standard library only (the prediction step is
    on every submission's critical path: a worker unpacks and Python imports these few files in
    milliseconds, where the scoring runtime's ``lib`` is hundreds); with ``perturbations`` (the
    manifest declares input perturbations), :data:`~aibench_plugins.runtime.ingest.PERTURBATION_MODULES` too.

    With ``meters`` (the modules of the prediction-side complexity meters, when the manifest
    declares any; ``uses``: their ids), what the organiser's ingestion program imports to call
    ``aibench_plugins.complexity.measure``: the complexity room, every file of aibench_plugins it
    and the meters' modules import (:func:`ingestion_closure`), the meters' own modules (a meter
    outside aibench_plugins: its top-level package or module), pluggy when they import the hook
    markers, and ptflops when ``aibench.macs`` is used (pure Python, copied from this environment).
    :raises VendorError: a meter's module cannot be found or holds compiled code, or ptflops is not
        installed here."""
    from ..runtime.ingest import COMPLEXITY_MODULES, MODULES, PERTURBATION_MODULES

    source = PACKAGE
    names = [*MODULES, *(PERTURBATION_MODULES if perturbations else ())]
    lib.mkdir(parents=True, exist_ok=True)
    if meters is not None:
        inside, outside, third_party = ingestion_closure(
            [*COMPLEXITY_MODULES, *(str(p.relative_to(source)) for p in sorted((source / "complexity").glob("*.py")))],
            meters)
        names += sorted(set(inside) - set(names))
        for path in outside:
            target = lib / path.name
            if path.is_dir():
                shutil.copytree(path, target, ignore=LEFT_OUT, dirs_exist_ok=True)
                refuse_compiled(path.name, (p for p in target.rglob("*") if p.is_file()))
            else:
                shutil.copy2(path, target)
        packages = [p for p in ("pluggy",) if p in third_party] + (["ptflops"] if "aibench.macs" in uses else [])
        for package in packages:
            spec = importlib.util.find_spec(package)
            if spec is None or not spec.submodule_search_locations:
                raise VendorError(f"{package} is needed by the complexity meters of the prediction step but is not "
                                  f"installed here; install it (pip install {package}), then wrap again")
            shutil.copytree(Path(next(iter(spec.submodule_search_locations))), lib / package, ignore=LEFT_OUT,
                            dirs_exist_ok=True)
            refuse_compiled(package, (p for p in (lib / package).rglob("*") if p.is_file()))
    for name in names:
        (lib / "aibench_plugins" / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / name, lib / "aibench_plugins" / name)
    if image is not None and image.python and _same_minor(image.python):
        compile_lib(lib)


def ingestion_closure(files: Sequence[str], modules: Sequence[str]) -> tuple[list[str], list[Path], set[str]]:
    """What ``files`` (of aibench_plugins, relative to the package) and the modules ``modules``
    import, transitively, statically (every import statement that runs, at any depth, the names of
    the public faces resolved to their modules): the files of aibench_plugins (relative paths, with
    the packages that hold them), the folders or files to copy for ``modules`` outside
    aibench_plugins (a module's top-level package, or the module itself), and the top-level names of
    the other packages imported. :raises VendorError: a module of ``modules`` cannot be found."""
    import ast

    source = PACKAGE
    found: set[str] = set()
    outside: dict[str, Path] = {}
    third_party: set[str] = set()
    pending: list[tuple[str, Path]] = [(_module_of(name), source / name) for name in files]
    for module in modules:
        if module.split(".")[0] == "aibench_plugins":
            path = _file_of(module, source)
            if path is None:
                raise VendorError(f"the complexity meter module {module!r} is not part of this aibench_plugins")
            pending.append((module, path))
            continue
        spec = importlib.util.find_spec(module)
        if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
            raise VendorError(f"the complexity meter module {module!r} cannot be found as Python source here: the "
                              "prediction step imports it by name, so the ingestion program's lib must carry it")
        top = module.split(".")[0]
        top_spec = importlib.util.find_spec(top)
        root = Path(next(iter(top_spec.submodule_search_locations))) if top_spec is not None and \
            top_spec.submodule_search_locations else Path(spec.origin)
        outside[top] = root
        for path in ([p for p in root.rglob("*.py") if "__pycache__" not in p.parts] if root.is_dir() else [root]):
            dotted = ".".join((top, *path.relative_to(root).with_suffix("").parts)) if root.is_dir() else top
            pending.append((dotted.removesuffix(".__init__"), path))
    seen: set[Path] = set()
    while pending:
        module, path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        if path.is_relative_to(source):
            relative = path.relative_to(source)
            found.add(relative.as_posix())
            for depth in range(1, len(relative.parts)):  # a package's __init__ runs first: its imports too
                parent = "/".join((*relative.parts[:depth], "__init__.py"))
                pending.append((_module_of(parent), source / parent))
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node in runtime_imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                base = absolute_module(package, node) if node.level else str(node.module or "")
                names = [base, *(f"{base}.{a.name}" for a in node.names)]
                names += _face_modules(base, [a.name for a in node.names])
            for name in names:
                if not name:
                    continue
                if name.split(".")[0] != "aibench_plugins":
                    if name.split(".")[0] not in outside:
                        third_party.add(name.split(".")[0])
                    continue
                target = _file_of(name, source)
                if target is not None:
                    pending.append((name, target))
    return sorted(found | {"__init__.py", "_version.py"}), list(outside.values()), third_party


def _module_of(relative: str) -> str:
    dotted = ".".join(("aibench_plugins", *Path(relative).with_suffix("").parts))
    return dotted.removesuffix(".__init__")


def _file_of(module: str, source: Path) -> Path | None:
    """The file of ``module`` (``aibench_plugins.x.y``) under ``source``, or ``None`` (a name inside a module)."""
    parts = module.split(".")[1:]
    folder = source.joinpath(*parts)
    if (folder / "__init__.py").is_file():
        return folder / "__init__.py"
    path = source.joinpath(*parts[:-1], f"{parts[-1]}.py") if parts else source / "__init__.py"
    return path if path.is_file() else None


#: the lazy public faces and the name of the table each keeps of where its names live
LAZY_FACES = {"aibench_plugins": "_MODULE_OF", "aibench_plugins.complexity": "_MODULE_OF",
              "aibench_plugins.stats": "_WHERE"}


def _face_modules(module: str, names: Sequence[str]) -> list[str]:
    """The modules a lazy public face (:data:`LAZY_FACES`) imports ``names`` from on first use."""
    if module not in LAZY_FACES:
        return []
    mapping = getattr(importlib.import_module(module), LAZY_FACES[module])
    return [f"{module}.{mapping[n]}" for n in names if n in mapping]


def compile_lib(lib: Path) -> None:
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


def runtime_imports(tree: Any) -> list[Any]:
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


def absolute_module(package: str, node: Any) -> str:
    if not node.level:
        return str(node.module or "")
    base = package.split(".")[: len(package.split(".")) - node.level + 1]
    return ".".join([*base, *([node.module] if node.module else [])])


def refuse_compiled(name: str, paths: Iterable[Path]) -> None:
    compiled = sorted(str(p) for p in paths if p.name.endswith(COMPILED))
    if compiled:
        raise VendorError(f"{name} contains compiled code ({', '.join(compiled[:3])}): a wrapped bundle carries "
                          "pure-Python code only, because the platform's image cannot install anything. Use a "
                          "pure-Python plugin, or run the bundle with 'aibench run' in an image that has it")
