"""The complexity plan (aibench_plugins/complexity/plan.py, built on the host by
aibench_plugins/evaluation/complexity_plan.py): what the prediction step measures, and its deadline."""

from __future__ import annotations

import json
import time

import pytest

import acme_meters
from aibench_plugins import Manifest, PluginHost, RuntimeRecordError
from aibench_plugins.complexity.plan import PLAN_ENV, ComplexityPlan, PlanEntry, budget_for, plan_from_env
from aibench_plugins.evaluation.complexity_plan import complexity_plan, meter_modules


def _host() -> PluginHost:
    host = PluginHost(strict=True)
    host.load_builtins()
    host.register_plugin(acme_meters, "acme-meters")
    host.freeze()
    return host


def _manifest(**document: object) -> Manifest:
    return Manifest({"schema_version": 1, **document}, sha256="d" * 64)


def test_the_plan_names_each_meter_by_its_import_path_with_the_entrys_params() -> None:
    manifest = _manifest(complexity=[{"use": "acme.calls", "key": "calls", "seed": 3, "params": {"shout": True}},
                                     {"use": "acme.host_side", "key": "wall"}])
    plan = complexity_plan(manifest, _host(), None, 120)
    assert plan is not None and plan.manifest_sha256 == "d" * 64
    calls, wall = plan.entries
    assert calls == PlanEntry("calls", "acme.calls", "acme_meters:Calls", {"shout": True}, 3, ("model", "callable"),
                              (), "prediction")
    assert wall.runs_in == "scoring" and plan.prediction_entries == (calls,)
    assert plan.time_limit_s == 120 and plan.time_budget_s == budget_for(120) == 55
    assert meter_modules(plan) == ["acme_meters"]


def test_no_prediction_side_meter_no_plan() -> None:
    assert complexity_plan(_manifest(complexity=[{"use": "acme.host_side", "key": "wall"}]), _host(), None, 60) is None
    assert complexity_plan(_manifest(), _host(), None, 60) is None


def test_a_phase_override_gives_its_own_plan() -> None:
    manifest = _manifest(complexity=[{"use": "acme.calls", "key": "calls"}],
                         phases={"1": {"complexity": [{"use": "acme.block", "key": "block"}]}})
    top, phase = complexity_plan(manifest, _host(), None, 60), complexity_plan(manifest, _host(), "1", 60)
    assert top is not None and phase is not None
    assert [e.use for e in top.entries] == ["acme.calls"] and [e.use for e in phase.entries] == ["acme.block"]


def test_the_plan_travels_in_the_environment_and_back() -> None:
    plan = ComplexityPlan("e" * 64, (PlanEntry("calls", "acme.calls", "acme_meters:Calls", {"fail": False}),), 10, 30)
    started = plan.started(now=1000.0)
    assert started.deadline_unix == 1000.0 + 30 - 5
    again = plan_from_env({PLAN_ENV: started.to_env()})
    assert again == started
    assert plan_from_env({}) is None


def test_the_deadline_is_the_budget_or_what_is_left_of_the_phase() -> None:
    plan = ComplexityPlan("e" * 64, (), time_budget_s=100, time_limit_s=20).started()
    left = plan.deadline() - time.monotonic()
    assert 14 < left <= 15  # the phase's 20 s, less the 5 s margin, sooner than the budget
    late = ComplexityPlan("e" * 64, (), time_budget_s=100, deadline_unix=time.time() - 10)
    assert late.deadline() <= time.monotonic()


@pytest.mark.parametrize("text", ["not json", json.dumps({"format": 99}), json.dumps({"format": 1})],
                         ids=["not json", "another format", "no manifest sha"])
def test_a_variable_that_holds_no_plan_is_an_error(text: str) -> None:
    with pytest.raises(RuntimeRecordError, match=PLAN_ENV):
        plan_from_env({PLAN_ENV: text})
