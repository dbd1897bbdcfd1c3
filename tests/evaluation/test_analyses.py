"""The two analysis kinds, fairness and robustness checkers, run by the evaluation session
(issue 12, the host's part): each entry's ``analyse`` in a forked child after the metrics, its
columns, the privacy filter, its thresholds, and what a failure of it keeps.

Real parts: the iris example bundle's reference data and submission, the built-in metrics, and the
``acme-analyses`` test plugin (tests/acme_analyses.py) registered in-process; per-group values are
checked against scikit-learn on the same rows. The same through ``aibench run`` and a wrapped
bundle: tests/evaluation/test_analyses_paths.py.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from analysiskit import TINY, analysis_bundle, fairness_entry, host_with_analyses
from sklearn.metrics import f1_score, matthews_corrcoef

from aibench_plugins import parse_manifest
from aibench_plugins.evaluation.report import report_problems
from aibench_plugins.evaluation.session import Evaluation, EvaluationSession
from aibench_plugins.manifest.loading import semantic_problems

REPO = Path(__file__).resolve().parents[2]
GOOD = REPO / "examples" / "submissions" / "iris-v2" / "good"


def _session(bundle: Path, phase: str | None = None) -> EvaluationSession:
    manifest, problems = parse_manifest((bundle / "aibench.json").read_bytes())
    assert manifest is not None and not problems, problems
    host = host_with_analyses()
    assert [p for p in semantic_problems(manifest, host, None) if p.severity == "error"] == []
    return EvaluationSession(manifest, host, phase)


def _evaluate(bundle: Path, phase: str | None = None) -> tuple[EvaluationSession, Evaluation]:
    session = _session(bundle, phase)
    return session, session.after_scoring(GOOD, bundle / "reference_data")


def _rows(reference: Path) -> tuple[list[str], list[str], list[str]]:
    """Labels, predictions and groups of every reference id, read with the csv module."""
    with (reference / "labels.csv").open() as handle:
        labels = {r["id"]: r["label"] for r in csv.DictReader(handle)}
    with (GOOD / "predictions.csv").open() as handle:
        predicted = {r["id"]: r["label"] for r in csv.DictReader(handle)}
    with (reference / "groups.csv").open() as handle:
        groups = {r["id"]: r["group"] for r in csv.DictReader(handle)}
    ids = list(labels)
    return [labels[i] for i in ids], [predicted[i] for i in ids], [groups[i] for i in ids]


def _columns(evaluation: Evaluation) -> dict[str, Any]:
    return {c.key: c for c in evaluation.columns}


def _failures(evaluation: Evaluation) -> dict[str | None, Any]:
    return {f.key: f for f in evaluation.failures}


def test_columns_come_from_the_summaries_and_match_an_independent_computation(tmp_path: Path) -> None:
    bundle = analysis_bundle(tmp_path)
    _, evaluation = _evaluate(bundle)

    truth, predicted, groups = _rows(bundle / "reference_data")
    per_group = {g: f1_score([t for t, h in zip(truth, groups) if h == g], [p for p, h in zip(predicted, groups)
                                                                            if h == g], average="macro")
                 for g in ("A", "B")}
    columns = _columns(evaluation)
    assert evaluation.failures == []
    assert columns["f1_gap"].value == pytest.approx(max(per_group.values()) - min(per_group.values()), abs=1e-12)
    assert columns["worst_f1"].value == pytest.approx(min(per_group.values()), abs=1e-12)
    assert (columns["f1_gap"].sorting, columns["worst_f1"].sorting) == ("asc", "desc")  # minimize; the metric's
    assert (columns["f1_gap"].metric, columns["f1_gap"].split, columns["f1_gap"].precision) == \
        ("acme.group_gap", "all", 4)
    assert columns["f1_gap"].title == "F1 gap" and columns["f1_gap"].provenance.plugin == "acme-analyses"
    assert columns["macro_f1"].value == pytest.approx(f1_score(truth, predicted, average="macro"), abs=1e-12)
    [record] = evaluation.analyses
    assert (record.kind, record.component, record.key, record.label, record.min_group_size) == \
        ("fairness", "acme.group_gap", "fairness", "Group gap", 10)
    mcc_b = next(g for g in record.groups if g.measure == "mcc" and g.group == {"group": "B"})
    rows_b = [i for i, g in enumerate(groups) if g == "B"]
    assert mcc_b.n == len(rows_b) == 14
    assert mcc_b.value == pytest.approx(matthews_corrcoef([truth[i] for i in rows_b],
                                                          [predicted[i] for i in rows_b]), abs=1e-12)


def test_the_privacy_filter_drops_every_group_below_the_minimum_and_only_counts_it(tmp_path: Path) -> None:
    bundle = analysis_bundle(tmp_path)
    _, evaluation = _evaluate(bundle)

    [record] = evaluation.analyses
    assert {g.group["group"] for g in record.groups} == {"A", "B"}
    assert all(g.n >= 10 for g in record.groups)
    assert record.dropped_groups == 3 + 3  # one GroupStat per metric (3), and its 3 rows of the Groups table
    assert [row[0] for row in record.tables[0]["rows"]] == ["A", "B"] * 3
    document = json.dumps(evaluation.to_json())
    assert TINY not in document and '"n": 3' not in document
    assert record.notes == ("9 group statistics computed",)


def test_without_a_minimum_a_component_that_needs_groups_gets_30(tmp_path: Path) -> None:
    entry = fairness_entry()
    del entry["min_group_size"]
    bundle = analysis_bundle(tmp_path, fairness=[entry | {"columns": [], "thresholds": []}])
    _, evaluation = _evaluate(bundle)

    [record] = evaluation.analyses
    assert record.min_group_size == 30
    assert record.groups == () and record.tables[0]["rows"] == []  # A has 28 rows, B 14
    assert record.dropped_groups == 9 + 9
    assert record.summary("gap.macro_f1").value is None  # type: ignore[union-attr]


def test_a_robustness_entry_runs_after_the_fairness_one_without_a_group_minimum(tmp_path: Path) -> None:
    bundle = analysis_bundle(tmp_path, robustness=[{"use": "acme.overall", "key": "overall", "seed": 7,
                                                    "columns": [{"summary": "score.mcc", "key": "mcc_overall"}]}])
    _, evaluation = _evaluate(bundle)

    assert [r.key for r in evaluation.analyses] == ["fairness", "overall"]
    overall = evaluation.analyses[1]
    assert overall.min_group_size is None and overall.kind == "robustness"
    assert overall.notes == ("seed 7", "perturbed runs: []")
    columns = _columns(evaluation)
    assert columns["mcc_overall"].value == columns["mcc"].value  # the same metric on the same rows


def test_perturbed_runs_of_the_session_reach_the_context(tmp_path: Path) -> None:
    bundle = analysis_bundle(tmp_path, robustness=[{"use": "acme.overall", "key": "overall"}])
    session = _session(bundle)
    session.perturbed_runs = {"blur": tmp_path, "noise": tmp_path}
    evaluation = session.after_scoring(GOOD, bundle / "reference_data")

    assert evaluation.analyses[-1].notes[-1] == "perturbed runs: ['blur', 'noise']"


def _perturbed(folder: Path, changed: int, drop: int = 0) -> Path:
    """The good submission with the label of its first ``changed`` rows changed, less its last ``drop`` rows."""
    with (GOOD / "predictions.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    for row in rows[:changed]:
        row["label"] = "setosa" if row["label"] != "setosa" else "versicolor"
    folder.mkdir()
    with (folder / "predictions.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, ["id", "label"])
        writer.writeheader()
        writer.writerows(rows[:len(rows) - drop])
    return folder


def test_read_predictions_reads_a_perturbed_run_aligned_on_the_metric_ids(tmp_path: Path) -> None:
    bundle = analysis_bundle(tmp_path, robustness=[{"use": "acme.overall", "key": "overall",
                                                    "params": {"compare": "mcc"},
                                                    "columns": [{"summary": "agreement.noise", "key": "agree"}]}])
    session = _session(bundle)
    session.perturbed_runs = {"noise": _perturbed(tmp_path / "noise", 5), "blur": _perturbed(tmp_path / "blur", 0)}
    evaluation = session.after_scoring(GOOD, bundle / "reference_data")

    overall = evaluation.analyses[-1]
    assert overall.summary("agreement.noise").value == pytest.approx(40 / 45)  # type: ignore[union-attr]
    assert overall.summary("agreement.blur").value == 1.0  # type: ignore[union-attr]
    assert _columns(evaluation)["agree"].value == pytest.approx(40 / 45)


def test_a_perturbed_run_missing_ids_is_a_failure_of_the_entry_that_reads_it(tmp_path: Path) -> None:
    bundle = analysis_bundle(tmp_path, robustness=[{"use": "acme.overall", "key": "overall",
                                                    "params": {"compare": "mcc"}}])
    session = _session(bundle)
    session.perturbed_runs = {"short": _perturbed(tmp_path / "short", 0, drop=2)}
    evaluation = session.after_scoring(GOOD, bundle / "reference_data")

    [failure] = evaluation.failures
    assert (failure.kind, failure.key) == ("robustness", "overall")
    assert "ReadError" in failure.message and "do not cover the same ids" in failure.message
    assert [r.key for r in evaluation.analyses] == ["fairness"]


def test_a_summary_the_component_did_not_give_fails_only_its_column(tmp_path: Path) -> None:
    bundle = analysis_bundle(tmp_path, fairness=[fairness_entry(params={"fault": "omit"})])
    session, evaluation = _evaluate(bundle)

    columns, failures = _columns(evaluation), _failures(evaluation)
    assert columns["worst_f1"].value is None and columns["f1_gap"].value is not None
    assert set(failures) == {"worst_f1"}
    assert failures["worst_f1"].kind == "fairness" and "no summary 'worst_group.macro_f1'" in failures["worst_f1"].message
    assert columns["macro_f1"].value is not None and evaluation.analyses  # the rest stands
    assert session.failure() is None


@pytest.mark.parametrize(("fault", "words"), [("raise", "RuntimeError: acme.group_gap was told to fail"),
                                              ("hang", "timed out"), ("crash", "exit code 3"),
                                              ("invalid", "returned dict, not an AnalysisResult"),
                                              ("group_not_mapping", "whose group is not a mapping"),
                                              ("table_of_garbage", "its result cannot be read (TypeError)")])
def test_an_analysis_that_raises_hangs_crashes_or_returns_garbage_is_a_failure_and_the_scores_stand(
        tmp_path: Path, fault: str, words: str) -> None:
    bundle = analysis_bundle(tmp_path, fairness=[fairness_entry(params={"fault": fault})],
                             limits={"plugin_time_limit_s": 2})
    session, evaluation = _evaluate(bundle)

    [failure] = evaluation.failures
    assert (failure.component, failure.kind, failure.key, failure.required) == \
        ("acme.group_gap", "fairness", "fairness", False)
    assert words in failure.message, failure.message
    assert evaluation.analyses == []
    columns = _columns(evaluation)
    assert columns["f1_gap"].value is None and columns["worst_f1"].value is None
    assert all(c.value is not None for c in evaluation.columns if c.metric.startswith("aibench."))
    assert session.failure() is None
    if fault == "raise":
        assert failure.traceback is not None and "acme_analyses.py" in failure.traceback


def test_a_required_entry_that_fails_fails_the_submission(tmp_path: Path) -> None:
    bundle = analysis_bundle(tmp_path, fairness=[fairness_entry(required=True, params={"fault": "raise"})])
    session, evaluation = _evaluate(bundle)

    assert evaluation.failed_required and evaluation.failed_required[0].key == "fairness"
    assert "a required plugin failed: acme.group_gap [fairness]" in str(session.failure())
    assert session.requires_metrics


def test_a_flag_threshold_is_shown_and_a_fail_threshold_fails_the_submission(tmp_path: Path) -> None:
    thresholds = [{"summary": "gap.macro_f1", "max": 0.01, "action": "flag"},
                  {"summary": "worst_group.mcc", "min": 0.99, "action": "fail"},
                  {"summary": "groups_published", "min": 1, "action": "fail"}]  # 2 groups: not crossed
    bundle = analysis_bundle(tmp_path, fairness=[fairness_entry(thresholds=thresholds)])
    session, evaluation = _evaluate(bundle)

    flag, fail = evaluation.flags
    gap = _columns(evaluation)["f1_gap"].value
    assert (flag.summary, flag.bound, flag.threshold, flag.action, flag.value) == ("gap.macro_f1", "max", 0.01,
                                                                                   "flag", gap)
    assert f"gap.macro_f1 is {gap:.6g}, above the maximum of 0.01 that the organiser set" in flag.message
    assert "flagged; the submission stands" in flag.message
    assert (fail.summary, fail.bound, fail.action) == ("worst_group.mcc", "min", "fail") and fail.value < 0.99
    assert "below the minimum of 0.99 that the organiser set" in fail.message
    assert "the submission fails; its original scores are kept" in fail.message
    message = session.failure()
    assert message is not None and "a threshold of the organiser was crossed" in message and "worst_group.mcc" in message
    assert evaluation.failures == [] and all(c.value is not None for c in evaluation.columns)  # the scores are kept
    assert evaluation.analyses[0].flags == (flag, fail)


def test_only_flags_do_not_fail_the_submission(tmp_path: Path) -> None:
    bundle = analysis_bundle(tmp_path)  # gap.macro_f1 max 0: flagged
    session, evaluation = _evaluate(bundle)

    assert [f.action for f in evaluation.flags] == ["flag"] and session.failure() is None


def test_summaries_that_are_not_finite_become_null_and_their_columns_fail(tmp_path: Path) -> None:
    bundle = analysis_bundle(tmp_path, fairness=[fairness_entry(params={"fault": "nan"})])
    _, evaluation = _evaluate(bundle)

    [record] = evaluation.analyses
    assert record.summary("gap.macro_f1").value is None  # type: ignore[union-attr]
    failures = _failures(evaluation)
    assert set(failures) == {"f1_gap", "worst_f1", "fairness"}  # the two columns, the threshold not checked
    assert "not finite" in failures["f1_gap"].message
    assert "threshold on 'gap.macro_f1' not checked" in failures["fairness"].message
    assert "NaN" not in json.dumps(evaluation.to_json())
    assert report_problems(_report(evaluation)) == []


def test_a_summary_no_leaderboard_can_store_fails_its_column(tmp_path: Path) -> None:
    bundle = analysis_bundle(tmp_path, fairness=[fairness_entry(params={"fault": "huge"}, thresholds=[])])
    _, evaluation = _evaluate(bundle)

    failure = _failures(evaluation)["f1_gap"]
    assert "1e+300" in failure.message and _columns(evaluation)["f1_gap"].value is None
    assert _columns(evaluation)["worst_f1"].value is not None


def test_a_phase_override_replaces_the_sections_for_its_phase(tmp_path: Path) -> None:
    override = {"robustness": [{"use": "acme.overall", "key": "overall", "params": {"value": 2.0},
                                "columns": [{"summary": "constant", "key": "constant"}]}], "fairness": []}
    bundle = analysis_bundle(tmp_path, phases={"0": override})

    _, top = _evaluate(bundle)
    _, phase = _evaluate(bundle, "0")

    assert [r.key for r in top.analyses] == ["fairness"] and "constant" not in _columns(top)
    assert [r.key for r in phase.analyses] == ["overall"] and _columns(phase)["constant"].value == 2.0
    assert "f1_gap" not in _columns(phase)


def test_the_plan_of_an_entry_has_its_defaults() -> None:
    from aibench_plugins.manifest.plan import plan

    document = {"fairness": [{"use": "acme.group_gap", "key": "fair",
                              "columns": [{"summary": "gap.macro_f1", "key": "gap"}],
                              "thresholds": [{"summary": "gap.macro_f1", "max": 0.1, "action": "fail"}]}],
                "metrics": [{"use": "aibench.f1", "key": "macro_f1"}]}
    phase = plan(document, None)
    [entry] = phase.fairness
    assert (entry.label, entry.seed, entry.min_group_size, entry.required) == ("fair", 0, None, False)
    assert entry.group_minimum(("groups",)) == 30 and entry.group_minimum(()) is None
    assert entry.columns[0].label == "gap" and entry.columns[0].sorting is None and entry.columns[0].precision == 4
    assert entry.thresholds[0].crossed(0.2) and not entry.thresholds[0].crossed(0.1)
    assert phase.column_keys == ("macro_f1", "gap") and phase.requires_something
    assert phase.without({"acme.group_gap"}).fairness == ()
    assert phase.settings() != plan({**document, "fairness": []}, None).settings()


def _report(evaluation: Evaluation) -> dict[str, Any]:
    from aibench_plugins.evaluation.report import report_document

    return report_document(producer="aibench run", status="finished", message="", platform="codabench",
                           phase={"number": 0, "name": "x"}, manifest_sha256=None, columns=[], evaluation=evaluation)


def test_the_report_document_carries_the_analyses_and_validates(tmp_path: Path) -> None:
    bundle = analysis_bundle(tmp_path, robustness=[{"use": "acme.overall", "key": "overall"}])
    _, evaluation = _evaluate(bundle)

    document = _report(evaluation)
    assert [a["key"] for a in document["analyses"]] == ["fairness", "overall"]
    assert document["analyses"][0]["flags"][0]["action"] == "flag"
    assert set(document["analyses"][0]) == {"kind", "component", "plugin", "key", "label", "min_group_size",
                                            "dropped_groups", "summaries", "groups", "tables", "notes", "flags"}
    assert report_problems(document) == []


def test_an_entry_whose_component_is_not_registered_is_a_failure_and_is_left_out(tmp_path: Path) -> None:
    from aibench_plugins import PluginHost

    bundle = analysis_bundle(tmp_path, fairness=[fairness_entry(required=True)])
    manifest, _ = parse_manifest((bundle / "aibench.json").read_bytes())
    assert manifest is not None
    host = PluginHost(strict=False, raise_failures=False)
    host.load_builtins()
    host.freeze()
    session = EvaluationSession(manifest, host)
    evaluation = session.after_scoring(GOOD, bundle / "reference_data")

    [failure] = [f for f in evaluation.failures if f.kind == "fairness"]
    assert (failure.component, failure.key, failure.required) == ("acme.group_gap", "fairness", True)
    assert session.plan.fairness == () and evaluation.analyses == []
    assert "f1_gap" not in _columns(evaluation) and _columns(evaluation)["macro_f1"].value is not None


def test_a_declared_table_is_read_once_for_every_entry_that_reads_it(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Each entry runs in a child of its own: a table read there would be read again by the next."""
    import aibench_plugins.data.readers as readers

    log = tmp_path / "reads.log"
    original = readers.read_table

    def counted(folder: Path, spec: Any) -> Any:
        with log.open("a") as handle:  # children write here too
            handle.write(f"{spec.file}\n")
        return original(folder, spec)

    monkeypatch.setattr(readers, "read_table", counted)
    second = fairness_entry(key="again", columns=[], thresholds=[])
    bundle = analysis_bundle(tmp_path, fairness=[fairness_entry(), second])
    _, evaluation = _evaluate(bundle)

    assert [r.key for r in evaluation.analyses] == ["fairness", "again"]
    assert log.read_text().splitlines().count("groups.csv") == 1
