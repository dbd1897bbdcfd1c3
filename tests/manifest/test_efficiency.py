"""The manifest's ``efficiency`` section: the plan it gives and the checks that need more than the
schema (what terms and ``cost`` name, a formula's required fields, column keys), with JSON pointers
and did-you-mean."""

from __future__ import annotations

import json
from typing import Any

from aibench_plugins import PluginHost, parse_manifest
from aibench_plugins.manifest.loading import semantic_problems

STEP = {"use": "aibench.prediction_step", "key": "step", "columns": [{"summary": "wall_time", "key": "step_time"}]}
METRIC = {"use": "aibench.accuracy", "key": "accuracy"}


def _problems(**sections: Any) -> list[Any]:
    manifest, problems = parse_manifest(json.dumps({"schema_version": 1, **sections}).encode())
    assert manifest is not None
    if problems:
        return problems
    host = PluginHost(strict=True)
    host.load_builtins()
    host.freeze()
    return [p for p in semantic_problems(manifest, host, None) if p.severity == "error"]


def _at(problems: list[Any]) -> dict[str, str]:
    return {p.pointer: f"{p.message} {p.fix or ''}" for p in problems}


def test_a_valid_section_gives_the_plan() -> None:
    doc = {"schema_version": 1, "complexity": [STEP], "efficiency": [
        {"key": "cost", "formula": "ntire", "terms": [{"measurement": "step.wall_time", "weight": 0.7}]},
        {"key": "front", "formula": "pareto_rank", "score": "step_time", "cost": "step.peak_memory"}]}
    manifest, problems = parse_manifest(json.dumps(doc).encode())
    assert manifest is not None and not problems
    assert _problems(**{k: v for k, v in doc.items() if k != "schema_version"}) == []
    items = manifest.plan().efficiency
    assert [(i.key, i.formula, i.by_leaderboard, i.sort) for i in items] == [("cost", "ntire", False, "asc"),
                                                                          ("front", "pareto_rank", True, "asc")]
    assert items[0].terms[0].entry == "step" and items[0].terms[0].name == "wall_time"


def test_terms_name_an_entry_and_a_measurement_with_did_you_mean() -> None:
    found = _at(_problems(complexity=[STEP], efficiency=[{"key": "cost", "formula": "weighted_ratios", "terms": [
        {"measurement": "stpe.wall_time"}, {"measurement": "step.wall_tme"}]}]))
    assert "did you mean 'step.wall_time'" in found["/efficiency/0/terms/0/measurement"]
    assert "gives no measurement 'wall_tme'" in found["/efficiency/0/terms/1/measurement"]
    assert "did you mean 'step.wall_time'" in found["/efficiency/0/terms/1/measurement"]
    schema = _problems(complexity=[STEP], efficiency=[{"key": "cost", "formula": "ntire",
                                                       "terms": [{"measurement": "wall_time"}]}])
    assert [p.pointer for p in schema] == ["/efficiency/0/terms/0/measurement"]  # no entry key: the schema says


def test_pareto_rank_needs_a_score_column_and_a_cost_and_no_terms() -> None:
    found = _at(_problems(metrics=[METRIC], data={"predictions": {"file": "p.csv", "id": "id", "columns": ["label"]},
                                                  "references": {"file": "r.csv", "id": "id", "columns": ["label"]}},
                          complexity=[STEP], efficiency=[
                              {"key": "front", "formula": "pareto_rank", "score": "acuracy",
                               "terms": [{"measurement": "step.wall_time"}]},
                              {"key": "sum", "formula": "ntire", "score": "accuracy"}]))
    assert "did you mean 'accuracy'" in found["/efficiency/0/score"]
    assert "no terms" in found["/efficiency/0/terms"]
    assert "needs 'cost'" in found["/efficiency/0"]
    assert "computed from terms" in found["/efficiency/1"] and "/efficiency/1/score" in found


def test_keys_are_their_own_and_the_schema_says_what_is_allowed() -> None:
    found = _at(_problems(complexity=[STEP], efficiency=[
        {"key": "step_time", "formula": "ntire", "terms": [{"measurement": "step.wall_time"}]}]))
    assert "already a column of a complexity entry" in found["/efficiency/0/key"]
    schema = _problems(efficiency=[{"key": "x", "formula": "geometric"}])
    assert [p.pointer for p in schema] == ["/efficiency/0/formula"]
