"""Vendoring by allow-list (issue 10): a wrapped bundle carries exactly the rooms of
aibench_plugins its runtime imports, and a host-only module is never copied."""

from __future__ import annotations

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
    # default_plugins are loaded by name (BUILTIN_PLUGINS), not imported; schemas are data
    assert needed <= set(RUNTIME_ROOMS), f"the runtime imports rooms that are not vendored: {needed - set(RUNTIME_ROOMS)}"
    assert set(RUNTIME_ROOMS) - needed == {"default_plugins", "schemas"}, set(RUNTIME_ROOMS) - needed
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
