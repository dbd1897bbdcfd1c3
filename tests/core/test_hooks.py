"""Every hook is documented with its exact signature and has a ``test_hook_<name>`` test
(the datasette rule): a growing hook surface stays honest."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest

from aibench_plugins import CheckInfo, ComplexityInfo, ComponentInfo, ExecutorInfo, Kind, PluginHost, hookimpl, metric
from aibench_plugins.core import hookspecs as _hookspecs
from aibench_plugins.core.kinds import KINDS, AnalysisInfo

DOCS = Path(__file__).resolve().parents[2] / "docs" / "plugin-hooks.md"
HOOKS = [row.hook for row in KINDS.values()]  # the hook documentation tests derive from the table of kinds


def test_every_kind_has_a_hook_and_every_hook_a_kind() -> None:
    assert sorted(HOOKS) == sorted(name for name in dir(_hookspecs) if name.startswith("aibench_"))


def test_the_table_of_kinds_has_one_row_per_kind_and_is_what_the_host_uses() -> None:
    """Issue 10: hook, info type, manifest section and runner of a kind are said once, in KINDS."""
    assert list(KINDS) == list(Kind)
    assert all(KINDS[kind].hook == kind.hook and KINDS[kind].kind is kind for kind in Kind)
    host = PluginHost()
    assert set(host.pm.hook.__dict__) >= {row.hook for row in KINDS.values()}
    sections = {row.section for row in KINDS.values() if row.section}
    schema_sections = {"metrics", "checks", "fairness", "robustness", "complexity", "executor"}
    assert sections == schema_sections


def test_a_component_with_the_wrong_info_type_is_refused_with_an_aibench_error() -> None:
    from aibench_plugins import AibenchError, ComponentKindError

    class Plugin:
        @staticmethod
        @hookimpl(specname="aibench_register_metrics")
        def register(register: Any) -> None:
            register(_Component(ComponentInfo(id="acme.not_a_metric")))

    host = PluginHost(strict=False)
    record = host.register_plugin(Plugin(), "acme")
    assert record.status == "failed" and "ComponentKindError" in record.reason
    assert "expected MetricInfo" in record.reason and "got" not in record.reason.split("expected")[0][-5:]
    assert issubclass(ComponentKindError, AibenchError) and issubclass(ComponentKindError, TypeError)


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_documented_with_its_signature(hook: str) -> None:
    text = DOCS.read_text()
    signature = f"{hook}({', '.join(inspect.signature(getattr(_hookspecs, hook)).parameters)})"
    assert f"## {hook}\n" in text, f"docs/plugin-hooks.md has no section '## {hook}'"
    assert f"`{signature}`" in text, f"docs/plugin-hooks.md does not show the signature {signature}"


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_a_test(hook: str) -> None:
    assert f"test_hook_{hook}" in globals(), f"no test named test_hook_{hook} in {__file__}"


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_a_contract_docstring(hook: str) -> None:
    doc = getattr(_hookspecs, hook).__doc__ or ""
    assert ":param register:" in doc and ":return:" in doc and "versionadded" in doc


def _registered(kind: Kind, component: Any) -> PluginHost:
    """Register ``component`` through the hook of ``kind`` in a fresh host."""

    class Plugin:
        pass

    def implementation(register: Any) -> None:
        register(component)

    setattr(Plugin, kind.hook, staticmethod(hookimpl(implementation, specname=kind.hook)))
    host = PluginHost(strict=True)
    host.load_builtins()
    record = host.register_plugin(Plugin(), "acme")
    assert record.status == "loaded" and record.kinds == [kind.value]
    assert host.registry(kind).get(component.info.id).plugin == "acme"
    return host


class _Component:
    def __init__(self, info: ComponentInfo) -> None:
        self.info = info


def test_hook_aibench_register_metrics() -> None:
    @metric(id="acme.zero", direction="minimize")
    def zero(*, predictions: Any, references: Any) -> float:
        return 0.0

    host = _registered(Kind.METRIC, zero)
    assert host.registry(Kind.METRIC).get("acme.zero").component.compute(predictions=[1], references=[2]) == 0.0


def test_hook_aibench_register_checks() -> None:
    _registered(Kind.CHECK, _Component(CheckInfo(id="acme.nothing")))


def test_hook_aibench_register_fairness_checkers() -> None:
    _registered(Kind.FAIRNESS, _Component(AnalysisInfo(id="acme.group_gap")))


def test_hook_aibench_register_robustness_checkers() -> None:
    _registered(Kind.ROBUSTNESS, _Component(AnalysisInfo(id="acme.bootstrap_ci")))


def test_hook_aibench_register_complexity_meters() -> None:
    _registered(Kind.COMPLEXITY, _Component(ComplexityInfo(id="acme.params")))


def test_hook_aibench_register_executors() -> None:
    _registered(Kind.EXECUTOR, _Component(ExecutorInfo(id="acme-executor")))


def test_hook_aibench_register_reporters() -> None:
    _registered(Kind.REPORTER, _Component(ComponentInfo(id="acme.section")))
