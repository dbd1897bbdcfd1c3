"""The plugin host: built-ins, isolation of broken plugins, strict mode, check_pending."""

from __future__ import annotations

from typing import Any

import pytest

from aibench_plugins import (
    AibenchError,
    CheckInfo,
    Kind,
    MissingPluginsError,
    PluginHost,
    PluginLoadError,
    PluginRequest,
    hookimpl,
    metric,
)


@metric(id="acme.constant", direction="minimize")
def constant(*, predictions: Any, references: Any) -> float:
    """Always 1."""
    return 1.0


class GoodPlugin:
    @hookimpl
    def aibench_register_metrics(self, register: Any) -> None:
        register(constant)


class RaisingPlugin:
    """Registers one metric, then raises: nothing it registered may remain."""

    @hookimpl
    def aibench_register_metrics(self, register: Any) -> None:
        register(constant)
        raise RuntimeError("boom")


class MisspelledHookPlugin:
    @hookimpl
    def aibench_register_metric(self, register: Any) -> None:  # missing "s"
        register(constant)


class NotAComponentPlugin:
    @hookimpl
    def aibench_register_metrics(self, register: Any) -> None:
        register(lambda: 1)


class BadParamsSchemaPlugin:
    @hookimpl
    def aibench_register_checks(self, register: Any) -> None:
        class Check:
            info = CheckInfo(id="acme.check", params_schema={"type": "object", "properties": {"x": {"type": 5}}})

        register(Check())


def host(**kwargs: Any) -> PluginHost:
    h = PluginHost(strict=False, **kwargs)
    h.load_builtins()
    return h


def test_builtins_are_plugins_with_records() -> None:
    h = host()
    records = {r.id: r for r in h.sorted_records()}
    assert {"aibench.accuracy", "aibench.balanced_accuracy", "aibench.f1"} <= set(
        records["aibench.classification"].provides["metric"])
    assert all(r.builtin and r.status == "loaded" and r.distribution == "aibench-plugins" for r in records.values())
    assert h.registry(Kind.CHECK).get("aibench.required_files").plugin == "aibench.files"


def test_loading_builtins_imports_no_numpy() -> None:
    """Loading must stay cheap: numpy is imported when a metric is computed."""
    import subprocess
    import sys

    code = "import sys; from aibench_plugins import PluginHost; PluginHost().load_builtins(); print('numpy' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"


def test_good_plugin_registers_its_metric() -> None:
    h = host()
    record = h.register_plugin(GoodPlugin(), "acme")
    assert record.status == "loaded" and record.kinds == ["metric"] and record.hooks == ["aibench_register_metrics"]
    assert h.registry(Kind.METRIC).get("acme.constant").plugin == "acme"


@pytest.mark.parametrize(
    ("plugin", "reason"),
    [
        (RaisingPlugin(), "RuntimeError: boom"),
        (MisspelledHookPlugin(), "unknown hook 'aibench_register_metric'"),
        (NotAComponentPlugin(), "its 'info' is NoneType, expected MetricInfo"),
        (BadParamsSchemaPlugin(), "params_schema is not a valid JSON Schema"),
    ],
    ids=["raises-in-hook", "misspelled-hook", "not-a-component", "invalid-params-schema"],
)
def test_failing_plugin_is_isolated_and_rolled_back(plugin: object, reason: str) -> None:
    h = host()
    record = h.register_plugin(plugin, "acme", distribution="acme-metrics", version="1.0")
    assert record.status == "failed"
    assert reason in record.reason
    assert "acme.constant" not in h.registry(Kind.METRIC)
    assert not h.pm.is_registered(plugin)
    # the host still works: another plugin loads after the failure
    assert h.register_plugin(GoodPlugin(), "good").status == "loaded"


def test_required_plugin_failure_is_fatal() -> None:
    with pytest.raises(PluginLoadError, match="acme-metrics 1.0.*the manifest marks it required.*boom"):
        host().register_plugin(RaisingPlugin(), "acme", distribution="acme-metrics", version="1.0", required=True)


def test_strict_mode_makes_every_failure_fatal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIBENCH_STRICT_PLUGINS", "1")
    h = PluginHost()
    h.load_builtins()
    with pytest.raises(PluginLoadError, match="AIBENCH_STRICT_PLUGINS is set"):
        h.register_plugin(RaisingPlugin(), "acme")


def test_duplicate_metric_id_fails_the_second_plugin_only() -> None:
    h = host()
    h.register_plugin(GoodPlugin(), "first")
    second = h.register_plugin(GoodPlugin(), "second")
    assert second.status == "failed"
    assert "by plugin 'first' and by plugin 'second'" in second.reason
    assert h.registry(Kind.METRIC).get("acme.constant").plugin == "first"


def test_builtin_failure_is_a_bug_and_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    from aibench_plugins.core import host as _host

    monkeypatch.setitem(_host.BUILTIN_PLUGINS, "aibench.broken", "aibench_plugins.does_not_exist")
    with pytest.raises(ModuleNotFoundError):
        PluginHost().load_builtins()
    h = PluginHost()
    with pytest.raises(AibenchError, match="built-in plugin 'aibench.x' failed"):
        h._register(MisspelledHookPlugin(), _host.PluginRecord("aibench.x", "aibench-plugins", "0", "loaded",
                                                               builtin=True))


def test_all_missing_required_plugins_are_reported_in_one_error() -> None:
    h = host()
    requests = [PluginRequest("not-installed-one", "not-installed-one>=1", required=True),
                PluginRequest("pluggy", "pluggy>=99", required=True),
                PluginRequest("not-installed-two", required=False)]
    with pytest.raises(MissingPluginsError) as info:
        h.load_requested(requests)
    message = str(info.value)
    assert "2 plugins the manifest requires are not available" in message
    assert "pip install 'not-installed-one>=1'" in message
    assert "version" in message and "is installed but the manifest requires 'pluggy>=99'" in message
    assert {r.id for r in info.value.records} == {"not-installed-one", "pluggy"}
    assert h.records["not-installed-two"].status == "missing"


def test_installed_distribution_without_entry_point_is_reported() -> None:
    h = host(raise_failures=False)
    h.load_requested([PluginRequest("pluggy")])
    assert h.records["pluggy"].status == "missing"
    assert "declares no entry point named 'pluggy' in group 'aibench'" in h.records["pluggy"].reason


def test_frozen_host_refuses_new_components() -> None:
    h = host()
    h.freeze()
    assert h.register_plugin(GoodPlugin(), "late").status == "failed"
