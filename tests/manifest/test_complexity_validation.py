"""The manifest's ``complexity`` section (issue 13): its entries are checked before anything runs,
like the analyses' (columns and thresholds against the meter's measurements), and a meter that
measures in the prediction step needs a phase whose ingestion program runs there. Real parts: the
example bundles as codalab_worker_compat loads them, the manifest schema, the built-ins and the
acme-meters test plugin (tests/acme_meters.py) registered in-process; aibench validate, run and
wrap refuse through validate_with_data (the acme_meters_builtin fixture)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from complexitykit import DIGITS_GOOD, acme_meters_builtin, measured_bundle

import acme_meters
from aibench_plugins import ManifestError, PluginHost, Problem, WrapRefused, parse_manifest
from aibench_plugins.manifest.loading import semantic_problems
from wrapkit import SUBMISSIONS, bundle_copy, edit_manifest

__all__ = ["acme_meters_builtin"]
REPO = Path(__file__).resolve().parents[2]


def _host() -> PluginHost:
    host = PluginHost(strict=True)
    host.load_builtins()
    host.register_plugin(acme_meters, "acme-meters")
    host.freeze()
    return host


def _problems(bundle: Path) -> list[Problem]:
    from codalab_worker_compat import load_bundle

    manifest, structural = parse_manifest((bundle / "aibench.json").read_bytes())
    assert manifest is not None
    return structural + semantic_problems(manifest, _host(), load_bundle(bundle), structural)


def _at(problems: list[Problem], pointer: str) -> Problem:
    found = [p for p in problems if p.pointer == pointer]
    assert len(found) == 1, (pointer, [str(p) for p in problems])
    return found[0]


def _errors(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == "error"]


def test_a_code_submission_bundle_with_meters_and_columns_validates(tmp_path: Path) -> None:
    bundle = measured_bundle(tmp_path, complexity=[
        {"use": "acme.calls", "key": "calls", "columns": [{"summary": "calls", "key": "calls_n", "label": "Calls"}],
         "thresholds": [{"summary": "calls", "max": 100, "action": "flag"}]},
        {"use": "acme.host_side", "key": "wall"}])
    assert not _errors(_problems(bundle))


def test_a_column_that_names_no_measurement_of_the_meter_says_what_it_gives(tmp_path: Path) -> None:
    bundle = measured_bundle(tmp_path, complexity=[
        {"use": "acme.calls", "key": "calls", "columns": [{"summary": "cals", "key": "calls_n"}],
         "thresholds": [{"summary": "nothing", "max": 1, "action": "flag"}]}])
    problems = _problems(bundle)
    column = _at(problems, "/complexity/0/columns/0/summary")
    assert "acme.calls gives no summary 'cals'" in str(column) and "did you mean 'calls'?" in str(column)
    assert _at(problems, "/complexity/0/thresholds/0/summary").severity == "error"


def test_a_prediction_side_meter_in_a_result_submission_bundle_is_the_organisers_problem(tmp_path: Path) -> None:
    bundle = bundle_copy("iris-v2", tmp_path)  # result submissions: no ingestion program
    edit_manifest(bundle, complexity=[{"use": "acme.calls", "key": "calls"}, {"use": "acme.host_side", "key": "wall"}])
    problems = _problems(bundle)
    problem = _at(problems, "/complexity/0/use")
    text = str(problem)
    assert problem.severity == "error" and "has no ingestion program" in text and "organiser's to fix" in text
    assert "aibench_plugins.complexity.measure" in text
    assert not [p for p in problems if p.pointer.startswith("/complexity/1")]  # a scoring-side meter runs anywhere


def test_a_phase_override_is_checked_against_its_own_phase(tmp_path: Path) -> None:
    bundle = bundle_copy("iris-v2", tmp_path)
    edit_manifest(bundle, phases={"0": {"complexity": [{"use": "acme.calls", "key": "calls"}]}})
    assert "has no ingestion program" in str(_at(_problems(bundle), "/phases/0/complexity/0/use"))


def test_a_meter_the_prediction_step_cannot_re_create_is_refused(tmp_path: Path) -> None:
    bundle = measured_bundle(tmp_path, complexity=[{"use": "acme.needs_arguments", "key": "x"}])
    problem = _at(_problems(bundle), "/complexity/0/use")
    assert "needs arguments to be constructed (scale)" in str(problem) and "author" in str(problem)


@pytest.mark.parametrize("entry, pointer", [({"use": "acme.calls"}, "/complexity/0"),
                                            ({"use": "acme.calls", "key": "Calls"}, "/complexity/0/key"),
                                            ({"use": "acme.calls", "key": "c", "min_group_size": 3}, "/complexity/0"),
                                            ({"use": "acme.calls", "key": "c", "params": {"fial": True}},
                                             "/complexity/0/params")],
                         ids=["no key", "key not lower case", "not a meter's field", "unknown param"])
def test_the_schema_and_the_meters_params_schema_check_each_entry(tmp_path: Path, entry: dict[str, Any],
                                                                   pointer: str) -> None:
    bundle = measured_bundle(tmp_path, complexity=[entry])
    assert [p for p in _errors(_problems(bundle)) if p.pointer.startswith(pointer)], [str(p) for p in
                                                                                    _problems(bundle)]


def test_both_schema_copies_are_the_same_and_declare_the_meter_entry() -> None:
    shipped = (REPO / "aibench_plugins" / "schemas" / "aibench-manifest.schema.json").read_text()
    assert (REPO / "schemas" / "aibench-manifest.schema.json").read_text() == shipped
    schema = json.loads(shipped)
    assert schema["$defs"]["complexity"]["items"] == {"$ref": "#/$defs/meter"}
    assert {"use", "key", "columns", "thresholds", "params", "seed"} <= set(schema["$defs"]["meter"]["properties"])


@pytest.mark.usefixtures("acme_meters_builtin")
def test_run_and_wrap_refuse_a_meter_that_cannot_run_before_anything_runs(tmp_path: Path) -> None:
    from aibench_plugins.run.runner import run_bundle
    from aibench_plugins.wrap.wrapping import wrap_bundle

    bundle = bundle_copy("iris-v2", tmp_path)
    edit_manifest(bundle, complexity=[{"use": "acme.calls", "key": "calls"}])
    with pytest.raises(ManifestError, match="has no ingestion program"):
        run_bundle(bundle, SUBMISSIONS / "iris-v2" / "good", ledger_path=tmp_path / "ledger.db")
    with pytest.raises(WrapRefused, match="has no ingestion program"):
        wrap_bundle(bundle, tmp_path / "wrapped.zip")
    assert DIGITS_GOOD.is_dir()
