"""Vendoring by allow-list (issue 10): a wrapped bundle carries exactly the rooms of
aibench_plugins its runtime imports, and a host-only module is never copied."""

from __future__ import annotations

from pathlib import Path

import grimp
import pytest

from aibench_plugins.wrap import vendor
from aibench_plugins.wrap.vendor import HOST_ONLY_ROOMS, RUNTIME_ROOMS, RUNTIME_TOP


def _rooms_imported_by_the_runtime() -> set[str]:
    graph = grimp.build_graph("aibench_plugins", "codalab_worker_compat", exclude_type_checking_imports=True)
    needed = graph.find_upstream_modules("aibench_plugins.runtime", as_package=True)
    return {m.split(".")[1] for m in needed | {"aibench_plugins.runtime"} if m.startswith("aibench_plugins.")
            and m.count(".") >= 1}


def test_the_allow_list_is_exactly_what_the_runtime_needs() -> None:
    needed = _rooms_imported_by_the_runtime() - {"_version"}
    # default_plugins are loaded by name (BUILTIN_PLUGINS), not imported, and stats is what they import;
    # schemas are data
    assert needed <= set(RUNTIME_ROOMS), f"the runtime imports rooms that are not vendored: {needed - set(RUNTIME_ROOMS)}"
    assert set(RUNTIME_ROOMS) - needed <= {"default_plugins", "stats", "schemas"}, set(RUNTIME_ROOMS) - needed
    assert not set(RUNTIME_ROOMS) & set(HOST_ONLY_ROOMS)


def test_a_wrapped_lib_holds_no_host_only_module(tmp_path: pytest.TempPathFactory) -> None:
    lib = tmp_path / "lib"  # type: ignore[operator]
    vendor.vendor(lib, [])
    package = lib / "aibench_plugins"
    top = {p.name for p in package.iterdir()}
    assert top == set(RUNTIME_ROOMS) | set(RUNTIME_TOP), top
    for room in HOST_ONLY_ROOMS:
        assert not (package / room).exists(), room
    assert not list(package.rglob("__main__.py"))


def test_a_host_only_module_in_a_vendored_room_fails_the_wrap(tmp_path: pytest.TempPathFactory,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A room that imports a host-only room cannot be vendored: the import would fail on the worker."""
    monkeypatch.setattr(vendor, "RUNTIME_ROOMS", (*RUNTIME_ROOMS, "run"))
    with pytest.raises(vendor.VendorError, match="host-only"):
        vendor.vendor(tmp_path / "lib", [])  # type: ignore[operator]


def test_the_ingestion_lib_is_exactly_what_the_ingestion_runtime_imports() -> None:
    from aibench_plugins.runtime.ingest import MODULES

    graph = grimp.build_graph("aibench_plugins", exclude_type_checking_imports=True)
    needed = graph.find_upstream_modules("aibench_plugins.runtime.ingest") | {"aibench_plugins.runtime.ingest"}
    files = set()
    for module in needed:
        parts = module.split(".")[1:]
        package = graph.find_children(module)  # a package's module is its __init__.py
        files.add("/".join(parts) + ("/__init__.py" if package else ".py"))
    for module in needed:  # the packages that hold them are imported too
        for depth in range(1, module.count(".")):
            files.add("/".join(module.split(".")[1:depth + 1]) + "/__init__.py")
    files |= {"__init__.py", "_version.py"}  # the package's own __init__, which imports _version
    assert files == set(MODULES), set(MODULES) ^ files


def test_a_wrapped_ingestion_runs_on_the_standard_library_alone(tmp_path: Path) -> None:
    """The ingestion's lib holds only its few modules, and with no site-packages at all (``-S``:
    no PyYAML, numpy or pluggy) the wrapped ingestion runs the original command and writes its
    measurements, importing nothing beyond them."""
    import json
    import shutil
    import subprocess
    import sys

    from aibench_plugins.manifest.wraprecord import WrapRecord
    from aibench_plugins.runtime import BOOTSTRAP
    from aibench_plugins.runtime.ingest import MEASUREMENTS_FILE, MODULES

    home = tmp_path / "_aibench"
    vendor.vendor_ingestion(home / "lib")
    shipped = {str(p.relative_to(home / "lib" / "aibench_plugins")) for p in (home / "lib").rglob("*.py")}
    assert shipped == set(MODULES)
    shutil.copyfile(BOOTSTRAP, home / "run.py")
    WrapRecord("ingestion", "v2", ["python3 ingestion.py"], "0", "a" * 64, time_limit_s=30).write(home)
    output = tmp_path / "output"
    output.mkdir()
    probe = ("import sys; open(sys.argv[1], 'w').write(' '.join(sorted(m for m in sys.modules "
             "if m.split('.')[0] in {'aibench_plugins', 'yaml', 'numpy', 'pandas', 'pluggy', 'packaging', "
             "'codalab_worker_compat'})))")
    # the probe runs as the original command, in a child: what the runtime imported is its parent's,
    # so the runtime itself is asked through -X importtime on its own stderr
    result = subprocess.run([sys.executable, "-S", "-X", "importtime", str(home / "run.py"), "ingest", str(output), "--",
                             sys.executable, "-S", "-c", probe, str(tmp_path / "child.txt")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    imported = {line.rsplit("|", 1)[1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")}
    ours = {m for m in imported if m.startswith("aibench_plugins")}
    assert ours, result.stderr[-2000:]
    assert not {m.split(".")[0] for m in imported} & {"yaml", "numpy", "pandas", "pluggy", "packaging",
                                                      "codalab_worker_compat"}, sorted(imported)
    assert {m.replace(".", "/") for m in ours} <= {m.removesuffix(".py").removesuffix("/__init__")
                                                  for m in ("aibench_plugins/" + f for f in MODULES)}
    record = json.loads((output / MEASUREMENTS_FILE).read_text())
    assert record["manifest_sha256"] == "a" * 64 and record["exit_code"] == 0 and record["wall_time_s"] >= 0


def test_the_complexity_modules_are_exactly_what_measure_imports_beyond_the_ingestion() -> None:
    from aibench_plugins.runtime.ingest import COMPLEXITY_MODULES, MODULES

    graph = grimp.build_graph("aibench_plugins", exclude_type_checking_imports=True)
    todo, seen = {"aibench_plugins.complexity.measure", "aibench_plugins.complexity"}, set()
    while todo:  # what it imports, and what each package's __init__ imports when it is imported
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo |= graph.find_upstream_modules(module)
            parts = module.split(".")
            todo |= {".".join(parts[:depth]) for depth in range(1, len(parts))}
    files = {"/".join(m.split(".")[1:]) + ("/__init__.py" if graph.find_children(m) else ".py")
             for m in seen if m != "aibench_plugins"}
    assert files - set(MODULES) == set(COMPLEXITY_MODULES)


def test_the_ingestion_lib_with_meters_runs_measure_on_the_standard_library_alone(tmp_path: Path) -> None:
    """With complexity meters, the ingestion's lib holds the complexity room, what the meters'
    modules import (a third-party meter module, pluggy for its hook marker) and no more: the
    original command, run with no site-packages (``-S``), imports aibench_plugins.complexity from
    the lib, measures with the test plugin's meter, and imports nothing of aibench beyond the lib."""
    import json
    import shutil
    import subprocess
    import sys
    import zipfile

    from aibench_plugins.complexity.file import COMPLEXITY_FILE
    from aibench_plugins.complexity.plan import ComplexityPlan, PlanEntry
    from aibench_plugins.manifest.wraprecord import WrapRecord
    from aibench_plugins.runtime import BOOTSTRAP
    from aibench_plugins.runtime.ingest import COMPLEXITY_MODULES, MODULES

    home = tmp_path / "_aibench"
    vendor.vendor_ingestion(home / "lib", meters=["acme_meters"], uses=["acme.calls"])
    shipped = {str(p.relative_to(home / "lib")) for p in (home / "lib").rglob("*.py")}
    ours = {s.removeprefix("aibench_plugins/") for s in shipped if s.startswith("aibench_plugins/")}
    assert set(MODULES) | set(COMPLEXITY_MODULES) <= ours
    assert "acme_meters.py" in shipped and any(s.startswith("pluggy/") for s in shipped)
    assert not {s.split("/")[0] for s in ours} & {"run", "wrap", "cli", "executors", "leaderboard", "evaluation",
                                                  "data"}
    # the complexity room's timing draws its interval with the stats room: the resampling it needs, not the engines
    assert {s for s in ours if s.startswith("stats/")} == {"stats/__init__.py", "stats/beta.py", "stats/intervals.py",
                                                          "stats/methods.py", "stats/resampling.py"}
    assert not ours & {"manifest/loading.py", "runtime/main.py"}
    vendor.zip_lib(home / "lib", home / "lib.zip")
    shutil.rmtree(home / "lib")
    assert "acme_meters.py" in zipfile.ZipFile(home / "lib.zip").namelist()
    shutil.copyfile(BOOTSTRAP, home / "run.py")
    plan = ComplexityPlan("a" * 64, (PlanEntry("calls", "acme.calls", "acme_meters:Calls"),), 20, 30)
    WrapRecord("ingestion", "v2", ["python3 ingestion.py"], "0", "a" * 64, time_limit_s=30,
               complexity=plan.to_json()).write(home)
    output = tmp_path / "output"
    output.mkdir()
    probe = ("import sys; from aibench_plugins.complexity import measure; measure(len, ['ab', 'c'], sys.argv[1]); "
             "open(sys.argv[2], 'w').write(' '.join(sorted(m for m in sys.modules if m.startswith('aibench_plugins') "
             "or m.split('.')[0] in {'acme_meters', 'pluggy', 'yaml', 'numpy', 'torch'})))")
    result = subprocess.run([sys.executable, "-S", str(home / "run.py"), "ingest", str(output), "--",
                             sys.executable, "-S", "-c", probe, str(output), str(tmp_path / "child.txt")],
                            capture_output=True, text=True, timeout=120, env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    imported = set((tmp_path / "child.txt").read_text().split())
    assert "acme_meters" in imported and not imported & {"yaml", "numpy", "torch"}, imported
    document = json.loads((output / COMPLEXITY_FILE).read_text())
    (entry,) = document["entries"]
    assert entry["error"] is None and {m["name"]: m["value"] for m in entry["result"]["measurements"]}["calls"] == 2
    assert document["manifest_sha256"] == "a" * 64
