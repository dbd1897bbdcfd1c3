"""Manifest validation: every problem at once, each with its JSON pointer, line,
expected, found and fix."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest

from aibench_plugins import Manifest, parse_manifest, validate_bundle
from aibench_plugins.manifest.schema import manifest_schema

REPO = Path(__file__).resolve().parents[2]


IRIS_DATA = {"predictions": {"file": "predictions.csv", "id": "id", "columns": ["label"]},
             "references": {"file": "labels.csv", "id": "id", "columns": ["label"]}}


def write(bundle: Path, manifest: dict[str, Any] | str) -> Path:
    """Write the manifest; a dict manifest with metrics gets the iris tables unless it has 'data'."""
    if isinstance(manifest, dict) and "metrics" in json.dumps(manifest) and "data" not in manifest:
        manifest = {**manifest, "data": IRIS_DATA}
    text = manifest if isinstance(manifest, str) else json.dumps(manifest, indent=2)
    (bundle / "aibench.json").write_text(text)
    return bundle


def errors(bundle: Path) -> list[Any]:
    return validate_bundle(bundle, strict=False).errors


def test_schema_is_valid_2020_12_with_id_and_titles() -> None:
    schema = manifest_schema()
    assert jsonschema_rs.meta.is_valid(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema" and schema["$id"]
    assert all("description" in schema["properties"][k] or "$ref" in schema["properties"][k]
               for k in schema["properties"])
    assert all("title" in d for d in schema["$defs"].values())


def test_schemas_folder_holds_the_packaged_schema() -> None:
    assert (REPO / "schemas" / "aibench-manifest.schema.json").read_text() == \
        (REPO / "aibench_plugins" / "schemas" / "aibench-manifest.schema.json").read_text()


def test_example_manifest_is_valid() -> None:
    report = validate_bundle(REPO / "bundles" / "iris-v2")
    assert report.ok, report.problems
    assert report.problems == []


def test_three_planted_mistakes_give_three_messages(iris_bundle: Path) -> None:
    write(iris_bundle, """{
  "schema_version": 1,
  "colour": "blue",
  "metrics": [
    {"use": "aibench.balanced_acuracy", "key": "balanced_accuracy"},
    {"use": "aibench.f1", "key": "macro_f1", "precision": "4"}
  ],
  "data": {"predictions": {"file": "predictions.csv", "id": "id", "columns": ["label"]},
           "references": {"file": "labels.csv", "id": "id", "columns": ["label"]}}
}""")
    found = errors(iris_bundle)
    assert [(p.pointer, p.line) for p in found] == [("/colour", 3), ("/metrics/0/use", 5), ("/metrics/1/precision", 6)]
    unknown_key, unknown_metric, wrong_type = found
    assert "unknown key 'colour'" in str(unknown_key) and "'schema_version'" in unknown_key.expected
    assert unknown_metric.fix.startswith("did you mean 'aibench.balanced_accuracy'?")
    assert (wrong_type.expected, wrong_type.found) == ("an integer", "'4' (a string)")
    assert wrong_type.fix == "write the number without quotes: 4"


def test_params_typo_names_the_plugin_and_pointer(iris_bundle: Path) -> None:
    write(iris_bundle, {"schema_version": 1, "metrics": [
        {"use": "aibench.f1", "key": "f1", "params": {"averge": "macro"}}]})
    [problem] = errors(iris_bundle)
    assert problem.pointer == "/metrics/0/params/averge"
    assert problem.plugin == "aibench.classification"
    assert "aibench.f1 (plugin aibench.classification)" in problem.message
    assert problem.fix == "did you mean 'average'?"


def test_params_bad_enum_value_suggests(iris_bundle: Path) -> None:
    write(iris_bundle, {"schema_version": 1, "metrics": [
        {"use": "aibench.f1", "key": "f1", "params": {"average": "marco"}}]})
    [problem] = errors(iris_bundle)
    assert (problem.pointer, problem.fix) == ("/metrics/0/params/average", "did you mean 'macro'?")


def test_missing_required_params_key(iris_bundle: Path) -> None:
    write(iris_bundle, {"schema_version": 1, "checks": [{"use": "aibench.required_files", "params": {}}]})
    [problem] = errors(iris_bundle)
    assert problem.pointer == "/checks/0/params" and "missing required key 'files'" in problem.message


@pytest.mark.parametrize(
    ("manifest", "pointer", "text"),
    [
        ({"schema_version": 2}, "/schema_version", "value not allowed"),
        ({}, "", "missing required key 'schema_version'"),
        ({"schema_version": 1, "metrics": [{"use": "aibench.mae", "key": "x" * 37}]}, "/metrics/0/key", "at most 36"),
        ({"schema_version": 1, "metrics": [{"use": "aibench.mae", "key": "mae score"}]}, "/metrics/0/key", "matching"),
        ({"schema_version": 1, "limits": {"memory_mb": 8}}, "/limits/memory_mb", ">= 16"),
        ({"schema_version": 1, "plugins": [{"id": "Acme_Metrics"}]}, "/plugins/0/id", "matching"),
        ({"schema_version": 1, "plugins": [{"id": "acme", "requirement": "acme>>1"}]}, "/plugins/0/requirement",
         "not a PEP 508 requirement"),
        ({"schema_version": 1, "plugins": [{"id": "acme", "requirement": "other>=1"}]}, "/plugins/0/requirement",
         "names 'other'"),
        ({"schema_version": 1, "phases": {"0": {}}}, "/phases/0", "at least 1 keys"),
    ],
    ids=["schema-version", "schema-version-missing", "key-too-long", "key-with-space", "memory-too-small",
         "plugin-id-not-normalised", "bad-requirement", "requirement-other-name",
         "empty-phase-override"],
)
def test_each_mistake_is_reported_at_its_pointer(iris_bundle: Path, manifest: dict[str, Any], pointer: str,
                                                 text: str) -> None:
    write(iris_bundle, manifest)
    found = [p for p in validate_bundle(iris_bundle, strict=False).problems if p.pointer == pointer]
    assert found and text in str(found[0]), validate_bundle(iris_bundle).problems


def test_duplicate_and_original_column_keys(iris_bundle: Path) -> None:
    write(iris_bundle, {"schema_version": 1, "metrics": [
        {"use": "aibench.mae", "key": "accuracy"},
        {"use": "aibench.mse", "key": "err"},
        {"use": "aibench.rmse", "key": "err"}]})
    first, second = errors(iris_bundle)
    assert first.pointer == "/metrics/0/key" and "already a column of the bundle's leaderboard" in first.message
    assert first.fix.startswith("choose another key, for example 'aibench_accuracy'")
    assert second.pointer == "/metrics/2/key" and "used twice (first at /metrics/1)" in second.message


def test_sort_against_the_metric_direction_is_a_warning(iris_bundle: Path) -> None:
    write(iris_bundle, {"schema_version": 1, "metrics": [{"use": "aibench.mae", "key": "mae", "sort": "desc"}]})
    report = validate_bundle(iris_bundle)
    assert report.ok
    [warning] = report.problems
    assert warning.severity == "warning" and warning.pointer == "/metrics/0/sort" and warning.expected == "'asc'"


def test_phase_overrides_are_checked_and_resolved(iris_bundle: Path) -> None:
    write(iris_bundle, {"schema_version": 1, "metrics": [{"use": "aibench.mae", "key": "mae"}],
                        "phases": {"Development": {"metrics": [{"use": "aibench.rmse", "key": "rmse"}]},
                                   "Final": {"metrics": [{"use": "aibench.rsme", "key": "rmse"}]}}})
    found = errors(iris_bundle)
    assert [p.pointer for p in found] == ["/phases/Final", "/phases/Final/metrics/0/use"]
    assert "no phase 'Final'" in found[0].message and found[1].fix.startswith("did you mean 'aibench.rmse'")
    manifest = Manifest(json.loads((iris_bundle / "aibench.json").read_text()))
    assert manifest.section("metrics", "Development") == [{"use": "aibench.rmse", "key": "rmse"}]
    assert manifest.section("metrics", 0) == [{"use": "aibench.mae", "key": "mae"}]
    assert manifest.section("checks") == [] and manifest.section("executor") is None


def test_json_syntax_error_names_line_and_column(iris_bundle: Path) -> None:
    write(iris_bundle, '{\n  "schema_version": 1,\n  "metrics": [}\n')
    [problem] = errors(iris_bundle)
    assert (problem.file, problem.line, problem.column) == ("aibench.json", 3, 15)
    assert "not valid JSON" in problem.message


def test_missing_manifest_is_one_clear_warning(iris_bundle: Path) -> None:
    """An unchanged bundle is one organisers check before they add anything (issue 11 item 7)."""
    (iris_bundle / "aibench.json").unlink()
    report = validate_bundle(iris_bundle)
    [problem] = report.problems
    assert report.ok and problem.severity == "warning"
    assert "no aibench.json next to competition.yaml" in problem.message and "aibench schema" in problem.fix


def test_bundle_without_competition_yaml(tmp_path: Path) -> None:
    [problem] = errors(tmp_path)
    assert "no competition.yaml at the root" in problem.message


def test_manifest_hash_is_recorded() -> None:
    data = (REPO / "bundles" / "iris-v2" / "aibench.json").read_bytes()
    manifest, problems = parse_manifest(data)
    import hashlib

    assert manifest is not None and not problems
    assert manifest.sha256 == hashlib.sha256(data).hexdigest()


def test_every_problem_at_once_in_document_order(iris_bundle: Path) -> None:
    write(iris_bundle, {"schema_version": 1, "a": 1, "metrics": [{"use": "aibench.ma", "key": "k", "x": 1}],
                        "limits": {"cpus": -1, "gpus": "1"}})
    found = errors(iris_bundle)
    assert len(found) == 5
    assert [p.line for p in found] == sorted(p.line for p in found)


@pytest.mark.parametrize("where", ["top", "phase"])
def test_a_section_whose_kind_has_no_runner_is_refused_everywhere(iris_bundle: Path, tmp_path: Path, where: str,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 10: a section nothing runs is never accepted and silently skipped: validate, run and
    wrap refuse it at its pointer, saying it is not implemented yet. Every kind has a runner since
    issue 14, so the executor's row is made one without a stage here."""
    import dataclasses

    from aibench_plugins import ManifestError, WrapRefused
    from aibench_plugins.core.kinds import KINDS, Kind
    from aibench_plugins.manifest import loading
    from aibench_plugins.run.runner import run_bundle
    from aibench_plugins.wrap.wrapping import wrap_bundle

    monkeypatch.setattr(loading, "KINDS", {**KINDS, Kind.EXECUTOR: dataclasses.replace(KINDS[Kind.EXECUTOR], stage=None)})
    manifest = json.loads((iris_bundle / "aibench.json").read_text())
    if where == "top":
        manifest["executor"] = {"use": "docker"}
        at = "/executor"
    else:
        manifest["phases"] = {"0": {"executor": {"use": "docker"}}}
        at = "/phases/0/executor"
    write(iris_bundle, manifest)
    found = [p for p in errors(iris_bundle) if p.pointer == at]
    assert found and "not implemented yet" in str(found[0]) and found[0].line, errors(iris_bundle)
    with pytest.raises(ManifestError, match="not implemented yet"):
        run_bundle(iris_bundle, REPO / "examples" / "submissions" / "iris-v2" / "good",
                   ledger_path=tmp_path / "ledger.sqlite")
    with pytest.raises(WrapRefused, match="not implemented yet"):
        wrap_bundle(iris_bundle, tmp_path / "wrapped.zip")


def test_column_keys_are_unique_after_the_split_suffix(iris_bundle: Path) -> None:
    """Issue 10: 'f1' on split 'public' is the column 'f1_public'; a metric keyed 'f1_public' clashes."""
    write(iris_bundle, {"schema_version": 1, "splits": {"public": {"ids": ["1"]}, "private": {"ids": ["2"]}},
                        "metrics": [{"use": "aibench.macro_f1", "key": "f1"},
                                    {"use": "aibench.accuracy", "key": "f1_public", "splits": ["all"]}]})
    found = [p for p in errors(iris_bundle) if p.pointer == "/metrics/1/key"]
    assert found and "column key 'f1_public' is used twice (first at /metrics/0)" in found[0].message, found


def test_the_plan_resolves_phases_default_splits_column_keys_and_limits(iris_bundle: Path) -> None:
    from aibench_plugins.manifest.plan import MetricEntry

    document = {"schema_version": 1, "splits": {"public": {"ids": ["1"]}, "private": {"ids": ["2"]}},
                "limits": {"plugin_time_limit_s": 5},
                "metrics": [{"use": "aibench.macro_f1", "key": "f1"}],
                "phases": {"Final": {"metrics": [{"use": "aibench.accuracy", "key": "acc", "splits": ["all"]}]}}}
    manifest, problems = parse_manifest(json.dumps(document).encode())
    assert manifest is not None and not problems
    top, final = manifest.plan(None), manifest.plan(manifest.phase_for(1, "Final"))
    assert manifest.phase_for(1, "Final") == "Final" and manifest.phase_for(0, "Development") is None
    assert top.column_keys == ("f1", "f1_public", "f1_private") and final.column_keys == ("acc",)
    assert top.metrics[0] == MetricEntry("aibench.macro_f1", "f1", "f1", ("all", "public", "private"),
                                         {"predictions": "predictions", "references": "references"})
    assert top.plugin_time_limit_s == final.plugin_time_limit_s == 5.0
    assert manifest.plan(None) is top  # parsed once


@pytest.mark.parametrize(("data", "message"), [
    (b"0", "the manifest must be a JSON object, found a number."),
    (b"[]", "the manifest must be a JSON object, found an array."),
    (b'{"a": Infinity}', "not valid JSON: Infinity is not a JSON number (JSON has no NaN or Infinity)."),
    (b'{"schema_version": NaN}', "not valid JSON: NaN is not a JSON number (JSON has no NaN or Infinity)."),
    (b"[" * 100_000 + b"]" * 100_000, "not a manifest: its arrays or objects nest deeper than Python can read."),
    (b'{"a": [' + b"[" * 900 + b"]" * 900 + b"]}", "not a manifest: its arrays or objects nest deeper than 64 levels."),
    (b'{"a": ' + b"1" * 5000 + b"}", "not a manifest JSON number: Exceeds the limit (4300 digits)"),
    (b'{"a": "\\ud800"}', "a string holds a lone surrogate escape (such as \\ud800): it is not Unicode text."),
], ids=["number", "array", "infinity", "nan", "nesting-100000", "nesting-900", "5000-digits", "lone-surrogate"])
def test_unreadable_manifests_are_one_problem(data: bytes, message: str) -> None:
    """Issue 9 item 13: each of these raised (AttributeError, JSONDecodeError from the positions,
    RecursionError, ValueError, UnicodeEncodeError)."""
    manifest, [problem] = parse_manifest(data)
    assert manifest is None and problem.message.startswith(message) and problem.fix


@pytest.mark.parametrize("manifest", [{"schema_version": 1, "metrics": [{"": 1}]},
                                      {"schema_version": 1, "concepts": [{"label": [None]}]},
                                      {"schema_version": 1, "plugins": 3}], ids=["no-use", "list-label", "plugins-int"])
def test_wrong_types_are_schema_problems_not_crashes(iris_bundle: Path, manifest: dict[str, Any]) -> None:
    write(iris_bundle, manifest)
    assert errors(iris_bundle)


def test_schema_has_no_duplicate_keys() -> None:
    """A duplicated key is silently dropped by json.loads: the schema would not say what it seems to."""
    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [k for k, _ in pairs]
        assert len(keys) == len(set(keys)), sorted(k for k in keys if keys.count(k) > 1)
        return dict(pairs)

    schema = json.loads((REPO / "schemas" / "aibench-manifest.schema.json").read_text(), object_pairs_hook=unique)
    assert set(schema["$defs"]["unpack_limits"]["properties"]) == {
        "max_total_mb", "max_member_mb", "max_entries", "max_ratio", "max_depth"}
