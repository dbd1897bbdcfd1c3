"""The manifest's ``fairness`` and ``robustness`` entries are checked before anything runs
(issue 12): each mistake is one problem at its JSON pointer, with its line, what was expected,
the fix and whose fix it is (the organiser's). Refusal by ``aibench validate``, ``aibench run``
and ``aibench wrap`` with the installed test plugin: tests/evaluation/test_analyses_paths.py.

Real parts: the iris example bundle as codalab_worker_compat loads it (its leaderboard's
``accuracy`` column), the manifest schema, the built-in metrics and the ``acme-analyses`` test
plugin (tests/acme_analyses.py) registered in-process.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from analysiskit import analysis_bundle, fairness_entry, host_with_analyses

from aibench_plugins import Problem, parse_manifest
from aibench_plugins.manifest.loading import semantic_problems


def _problems(bundle: Path) -> list[Problem]:
    from codalab_worker_compat import load_bundle

    manifest, structural = parse_manifest((bundle / "aibench.json").read_bytes())
    assert manifest is not None
    return structural + semantic_problems(manifest, host_with_analyses(), load_bundle(bundle), structural)


def _at(problems: list[Problem], pointer: str) -> Problem:
    found = [p for p in problems if p.pointer == pointer]
    assert len(found) == 1, (pointer, [str(p) for p in problems])
    return found[0]


def _column(summary: str, key: str = "col", **extra: Any) -> dict[str, Any]:
    return {"summary": summary, "key": key, **extra}


def test_the_example_entry_is_valid(tmp_path: Path) -> None:
    bundle = analysis_bundle(tmp_path, robustness=[{"use": "acme.overall", "key": "overall",
                                                    "columns": [_column("score.mcc", "mcc_all")]}])
    assert _problems(bundle) == []


CASES: list[tuple[str, dict[str, Any], str, list[str]]] = [
    ("unknown component", {"fairness": [fairness_entry(use="acme.group_gapp")]}, "/fairness/0/use",
     ["unknown fairness 'acme.group_gapp'", "did you mean 'acme.group_gap'?"]),
    ("component of the other kind", {"robustness": [fairness_entry(key="other", columns=[], thresholds=[])]},
     "/robustness/0/use",
     ["unknown robustness 'acme.group_gap'"]),
    ("unknown summary", {"fairness": [fairness_entry(columns=[_column("gapp.macro_f1")])]},
     "/fairness/0/columns/0/summary", ["acme.group_gap gives no summary 'gapp.macro_f1'",
                                       "did you mean 'gap.macro_f1'?"]),
    ("{metric} naming no metric", {"fairness": [fairness_entry(columns=[_column("worst_group.macro_f")])]},
     "/fairness/0/columns/0/summary", ["names 'macro_f' as its metric, which is no metric key of the phase",
                                       "did you mean 'worst_group.macro_f1'?"]),
    ("unknown threshold summary", {"fairness": [fairness_entry(thresholds=[
        {"summary": "gap", "max": 0.1, "action": "flag"}])]}, "/fairness/0/thresholds/0/summary",
     ["gives no summary 'gap'"]),
    ("column key of a metric's column", {"fairness": [fairness_entry(columns=[_column("gap.mcc", "mcc_public")])]},
     "/fairness/0/columns/0/key", ["column key 'mcc_public' is already a metric's column"]),
    ("column key of the leaderboard", {"fairness": [fairness_entry(columns=[_column("gap.mcc", "accuracy")])]},
     "/fairness/0/columns/0/key", ["already a column of the bundle's leaderboard", "'aibench_accuracy'"]),
    ("column key twice", {"fairness": [fairness_entry()], "robustness": [
        {"use": "acme.overall", "key": "overall", "columns": [_column("constant", "f1_gap")]}]},
     "/robustness/0/columns/0/key", ["column key 'f1_gap' is already the column of /fairness/0/columns/0"]),
    ("entry key twice", {"robustness": [{"use": "acme.overall", "key": "fairness"}]}, "/robustness/0/key",
     ["entry key 'fairness' is used twice", "first at /fairness/0"]),
    ("threshold without a bound", {"fairness": [fairness_entry(thresholds=[
        {"summary": "gap.mcc", "action": "fail"}])]}, "/fairness/0/thresholds/0", ["neither 'min' nor 'max'"]),
    ("threshold with both bounds", {"fairness": [fairness_entry(thresholds=[
        {"summary": "gap.mcc", "min": 0, "max": 1, "action": "flag"}])]}, "/fairness/0/thresholds/0",
     ["both 'min' and 'max'", "write two thresholds"]),
    ("min_group_size for a component without groups", {"robustness": [
        {"use": "acme.overall", "key": "overall", "min_group_size": 5}]}, "/robustness/0/min_group_size",
     ["acme.overall does not need groups", "remove 'min_group_size'"]),
    ("min_group_size below 1", {"fairness": [fairness_entry(min_group_size=0)]}, "/fairness/0/min_group_size",
     ["min_group_size 0 publishes groups of any size", "at least 1"]),
    ("params against the component's schema", {"fairness": [fairness_entry(params={"fault": "explode"})]},
     "/fairness/0/params/fault", ["acme.group_gap (plugin acme-analyses)", "value not allowed"]),
    ("a column item of the wrong shape", {"fairness": [fairness_entry(columns=[{"summary": "gap.mcc"}])]},
     "/fairness/0/columns/0", ["missing required key 'key'"]),
    ("a threshold without an action", {"fairness": [fairness_entry(thresholds=[{"summary": "gap.mcc", "max": 1}])]},
     "/fairness/0/thresholds/0", ["missing required key 'action'"]),
]


@pytest.mark.parametrize(("changes", "pointer", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_mistake_in_an_analysis_entry_is_one_problem_at_its_pointer(tmp_path: Path, changes: dict[str, Any],
                                                                      pointer: str, words: list[str]) -> None:
    bundle = analysis_bundle(tmp_path, **changes)

    problems = _problems(bundle)
    problem = _at(problems, pointer)
    assert problem.severity == "error" and problem.line is not None and problem.file == "aibench.json"
    text = str(problem)
    assert all(word in text for word in words), text
    assert [p for p in problems if p.severity == "error"] == [problem], [str(p) for p in problems]
    if not pointer.endswith(("/use", "/params/fault")) and "missing required key" not in text:
        assert problem.expected and "the organiser's" in text, text  # ids, params and shapes: as for metrics


def test_a_phase_with_its_own_metrics_checks_the_top_level_entries_against_them(tmp_path: Path) -> None:
    bundle = analysis_bundle(tmp_path, phases={"0": {"metrics": [{"use": "aibench.accuracy", "key": "acc"}]}})

    problems = _problems(bundle)
    found = [p for p in problems if p.severity == "error"]
    assert {p.pointer for p in found} == {"/fairness/0/columns/0/summary", "/fairness/0/columns/1/summary",
                                          "/fairness/0/thresholds/0/summary"}
    assert all("in phase '0'" in p.message and "'macro_f1' as its metric" in p.message for p in found), found


def test_a_phase_override_of_the_section_is_checked_at_its_own_pointer(tmp_path: Path) -> None:
    entry = fairness_entry(columns=[_column("gap.nope")], thresholds=[])
    bundle = analysis_bundle(tmp_path, phases={"0": {"fairness": [entry]}})

    problem = _at(_problems(bundle), "/phases/0/fairness/0/columns/0/summary")
    assert "'nope' as its metric" in problem.message and "in phase" not in problem.message


def test_a_sorting_against_the_summary_direction_is_a_warning(tmp_path: Path) -> None:
    bundle = analysis_bundle(tmp_path, fairness=[fairness_entry(columns=[_column("gap.mcc", sorting="desc")])])

    problem = _at(_problems(bundle), "/fairness/0/columns/0/sorting")
    assert problem.severity == "warning" and "is better when lower" in problem.message and problem.expected == "'asc'"


def test_the_schema_describes_every_field_of_an_entry() -> None:
    from aibench_plugins.manifest.schema import manifest_schema

    defs = manifest_schema()["$defs"]
    assert set(defs["analysis"]["properties"]) == {"use", "key", "label", "required", "seed", "min_group_size",
                                                   "columns", "thresholds", "params"}
    assert set(defs["analysis_column"]["properties"]) == {"summary", "key", "label", "precision", "sorting", "hidden"}
    assert set(defs["analysis_threshold"]["properties"]) == {"summary", "min", "max", "action"}
    for section in ("fairness", "robustness"):
        assert defs[section]["items"] == {"$ref": "#/$defs/analysis"}
        assert defs["phase_override"]["properties"][section] == {"$ref": f"#/$defs/{section}"}


def test_the_composed_schema_gives_each_analysis_its_params() -> None:
    from aibench_plugins.manifest.schema import composed_schema

    defs = composed_schema(host_with_analyses())["$defs"]
    rules = {rule["if"]["properties"]["use"]["const"]: rule["then"]["properties"]["params"]
             for rule in defs["fairness_item"]["allOf"]}
    assert rules["acme.group_gap"]["properties"]["fault"]["enum"][0] == "raise"
    assert "acme.overall" in json.dumps(defs["robustness_item"]) and "acme.overall" not in json.dumps(
        defs["fairness_item"])


_VALUES = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=False, allow_infinity=False),
                                 st.sampled_from(["gap.macro_f1", "gap.{metric}", "worst_group.mcc", "constant",
                                                  "acme.group_gap", "acme.overall", "f1_gap", "accuracy", "flag",
                                                  "fail", "asc", "desc", "*", ""])),
                       lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(
                           ["use", "key", "summary", "min", "max", "action", "columns", "thresholds", "sorting",
                            "min_group_size", "params", "label", "seed", "fault"]), inner, max_size=5)),
                       max_leaves=12)
_ENTRY = st.fixed_dictionaries({"use": st.sampled_from(["acme.group_gap", "acme.overall", "acme.nope"]),
                                "key": st.sampled_from(["fairness", "overall", "x"])},
                               optional={k: _VALUES for k in ("columns", "thresholds", "min_group_size", "params",
                                                              "seed", "label")})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fairness=st.lists(_ENTRY, max_size=3), robustness=st.lists(_ENTRY, max_size=2),
       phase=st.one_of(st.none(), st.dictionaries(st.sampled_from(["fairness", "robustness", "metrics"]),
                                                  st.lists(_ENTRY, max_size=2), min_size=1)))
def test_no_analysis_entry_makes_the_validation_raise(fairness: list[Any], robustness: list[Any],
                                                      phase: dict[str, Any] | None) -> None:
    document: dict[str, Any] = {"schema_version": 1, "metrics": [{"use": "aibench.f1", "key": "macro_f1"}],
                                "fairness": fairness, "robustness": robustness}
    if phase is not None:
        document["phases"] = {"0": phase}
    manifest, structural = parse_manifest(json.dumps(document).encode())
    assert manifest is not None
    found = semantic_problems(manifest, _HOST, None, structural)
    assert all(isinstance(p, Problem) and p.pointer.startswith(("/fairness", "/robustness", "/phases", "/metrics"))
               for p in found)


_HOST = host_with_analyses()
