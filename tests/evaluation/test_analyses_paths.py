"""The analyses through both paths (issue 12): ``aibench run`` (text and ``--json``) and the wrapped
bundle's runtime give the same ``analyses`` and the same analysis columns for the same submission;
``aibench wrap`` declares the columns in competition.yaml's leaderboard; a ``fail`` threshold fails
the submission on both paths with its original scores kept; a group below ``min_group_size``
appears in no output of either path; ``aibench validate``, ``run`` and ``wrap`` refuse a wrong
entry before anything runs; ``aibench plugins show`` lists an analysis' summaries.

Real parts: the ``acme-analyses`` test plugin built and pip-installed into a folder
(tests/analysiskit.py), ``aibench`` run as a command with that folder on ``PYTHONPATH`` (so
``aibench wrap`` vendors it), the wrapped bundle run by the local executor as a worker runs it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from analysiskit import TINY, analysis_bundle, fairness_entry, install_analyses_plugin
from wrapkit import SUBMISSIONS, run_as_platform, runtime_report, scoring_output, stderr_of_scoring

from aibench_plugins.evaluation.report import plugin_results, report_problems

GOOD = SUBMISSIONS / "iris-v2" / "good"
ROBUSTNESS = [{"use": "acme.overall", "key": "overall", "columns": [{"summary": "score.mcc", "key": "mcc_overall"}]}]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return install_analyses_plugin(tmp_path_factory.mktemp("site"), tmp_path_factory.mktemp("sources"))


def _aibench(site: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "aibench_plugins", *map(str, args)], capture_output=True, text=True,
                          env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin", "AIBENCH_GC": "0"}, timeout=300)


def _run(site: Path, bundle: Path, work: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return _aibench(site, "run", bundle, GOOD, "--ledger", work.parent / f"{work.name}.db", "--work-dir", work, *extra)


def _outputs_of_the_run(work: Path) -> dict[str, str]:
    """Every file ``aibench run`` writes, except the copies of its inputs (the reference data holds
    the groups table, as the organiser gave it)."""
    found = {}
    for path in sorted(work.rglob("*")):
        parts = path.relative_to(work).parts
        if path.is_file() and not any(p in ("input", "ref", "reference_data", "bundle", "submission") for p in parts):
            found[str(path.relative_to(work))] = path.read_text(errors="replace")
    return found


@pytest.fixture(scope="module")
def paths(site: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The same bundle and submission through ``aibench run --json``, ``aibench run`` (text) and the
    wrapped runtime, run once for the tests below."""
    root = tmp_path_factory.mktemp("paths")
    bundle = analysis_bundle(root, robustness=ROBUSTNESS)
    printed = _run(site, bundle, root / "json", "--json")
    text = _run(site, bundle, root / "text")
    wrapped = root / "wrapped.zip"
    done = _aibench(site, "wrap", bundle, "-o", wrapped)
    assert done.returncode == 0, done.stdout + done.stderr
    platform = run_as_platform(wrapped, GOOD, root / "platform")
    return {"bundle": bundle, "printed": printed, "text": text, "work": root / "json", "text_work": root / "text",
            "wrapped": wrapped, "platform": platform}


def test_aibench_run_json_carries_the_analyses_and_their_columns(paths: dict[str, Any]) -> None:
    done = paths["printed"]
    assert done.returncode == 0, done.stdout + done.stderr
    printed = json.loads(done.stdout)
    report = json.loads((paths["work"] / "report.json").read_text())

    assert printed["report"] == report and report_problems(report) == []
    assert [a["key"] for a in report["analyses"]] == ["fairness", "overall"] == [a["key"] for a in printed["analyses"]]
    columns = {c["key"]: c for c in report["plugin_columns"]}
    assert columns["f1_gap"]["metric"] == "acme.group_gap" and columns["f1_gap"]["value"] > 0
    assert columns["mcc_overall"]["value"] == columns["mcc"]["value"]
    gap = next(s for s in report["analyses"][0]["summaries"] if s["name"] == "gap.macro_f1")
    assert gap["value"] == columns["f1_gap"]["value"]
    assert report["analyses"][0]["flags"][0]["summary"] == "gap.macro_f1"


def test_aibench_run_prints_the_analysis_columns_and_the_flags(paths: dict[str, Any]) -> None:
    done = paths["text"]
    assert done.returncode == 0, done.stdout + done.stderr
    rows = {line.split()[-3]: line for line in done.stdout.splitlines() if "acme." in line}
    assert set(rows) >= {"f1_gap", "worst_f1", "mcc_overall"}, done.stdout
    assert "acme.group_gap" in rows["f1_gap"] and "F1 gap" in rows["f1_gap"]
    assert "  flag: Group gap: gap.macro_f1 is " in done.stdout and "that the organiser set" in done.stdout


def test_the_wrapped_runtime_gives_the_same_analyses_and_columns_as_aibench_run(paths: dict[str, Any]) -> None:
    platform = paths["platform"]
    assert platform.ok, stderr_of_scoring(platform)
    wrapped = runtime_report(platform)
    ours = json.loads((paths["work"] / "report.json").read_text())

    assert report_problems(wrapped) == []
    assert plugin_results(wrapped) == plugin_results(ours)
    assert wrapped["analyses"] and wrapped["analyses"] == ours["analyses"]
    scores = json.loads((scoring_output(platform) / "scores.json").read_text())
    assert scores["f1_gap"] == pytest.approx(next(c["value"] for c in ours["plugin_columns"] if c["key"] == "f1_gap"))
    assert "flag: Group gap: gap.macro_f1" in stderr_of_scoring(platform)


def test_aibench_wrap_declares_the_analysis_columns_in_the_leaderboard(paths: dict[str, Any]) -> None:
    import zipfile

    with zipfile.ZipFile(paths["wrapped"]) as archive:
        spec = yaml.safe_load(archive.read("competition.yaml"))
    columns = {c["key"]: c for board in spec["leaderboards"] for c in board["columns"]}
    assert (columns["f1_gap"]["title"], columns["f1_gap"]["sorting"]) == ("F1 gap", "asc")
    assert columns["worst_f1"]["sorting"] == "desc" and columns["mcc_overall"]["sorting"] == "desc"
    assert columns["f1_gap"]["precision"] == 4


def test_a_group_below_the_minimum_appears_in_no_output_of_either_path(paths: dict[str, Any]) -> None:
    outputs = {f"run: {k}": v for k, v in _outputs_of_the_run(paths["work"]).items()}
    outputs |= {f"run text: {k}": v for k, v in _outputs_of_the_run(paths["text_work"]).items()}
    outputs["run --json"] = paths["printed"].stdout + paths["printed"].stderr
    outputs["run text output"] = paths["text"].stdout + paths["text"].stderr
    platform = paths["platform"]
    for path in sorted(scoring_output(platform).rglob("*")):
        if path.is_file():
            outputs[f"wrapped: {path.name}"] = path.read_text(errors="replace")
    for step in platform.result.steps:
        outputs |= {f"wrapped {step.step} {name}": p.read_text(errors="replace") for name, p in step.logs.items()}

    assert any("detailed_results.html" in k for k in outputs) and any("plugins.log" in k for k in outputs), outputs
    assert any(k.endswith("scores.json") for k in outputs), sorted(outputs)
    leaks = [name for name, text in outputs.items() if TINY in text]
    assert leaks == [], leaks
    page = next(v for k, v in outputs.items() if k.startswith("run: ") and k.endswith("detailed_results.html"))
    assert "Groups of fewer than 10 rows are not shown (6 group statistics left out)." in page
    assert "<td>group=B</td>" in page and "<td>group=A</td>" in page  # the generic section: no reporter covers it


def test_a_fail_threshold_fails_the_submission_on_both_paths_and_keeps_its_scores(site: Path, tmp_path: Path) -> None:
    thresholds = [{"summary": "worst_group.mcc", "min": 0.99, "action": "fail"}]
    bundle = analysis_bundle(tmp_path, fairness=[fairness_entry(thresholds=thresholds)])
    done = _run(site, bundle, tmp_path / "run", "--json")

    assert done.returncode == 1
    report = json.loads(done.stdout)["report"]
    assert report["status"] == "failed" and "a threshold of the organiser was crossed" in report["message"]
    assert "worst_group.mcc is" in report["message"] and "below the minimum of 0.99" in report["message"]
    assert {c["key"]: c["value"] for c in report["columns"]}["accuracy"] == pytest.approx(0.9555555555555556)
    assert report["analyses"][0]["flags"][0]["action"] == "fail"

    wrapped = tmp_path / "wrapped.zip"
    assert _aibench(site, "wrap", bundle, "-o", wrapped).returncode == 0
    platform = run_as_platform(wrapped, GOOD, tmp_path / "platform")
    assert not platform.ok
    document = runtime_report(platform)
    assert document["status"] == "failed" and "a threshold of the organiser was crossed" in document["message"]
    assert (scoring_output(platform) / "aibench" / "withheld_scores.json").is_file()  # kept where no worker reads it
    assert document["analyses"] == report["analyses"]


def test_validate_run_and_wrap_refuse_a_wrong_entry_before_anything_runs(site: Path, tmp_path: Path) -> None:
    bundle = analysis_bundle(tmp_path, fairness=[fairness_entry(columns=[{"summary": "gap.macro", "key": "gap"}])])
    at = "/fairness/0/columns/0/summary"

    validated = _aibench(site, "validate", bundle)
    ran = _run(site, bundle, tmp_path / "run")
    wrapped = _aibench(site, "wrap", bundle, "-o", tmp_path / "wrapped.zip")

    for done in (validated, ran, wrapped):
        out = done.stdout + done.stderr
        assert done.returncode != 0 and at in out and "did you mean 'gap.macro_f1'?" in out, out
        assert "Traceback" not in out
    assert "nothing ran" in ran.stderr and not (tmp_path / "run").exists()
    assert not (tmp_path / "wrapped.zip").exists()


def test_plugins_show_lists_an_analysis_summaries_and_needs(site: Path) -> None:
    done = _aibench(site, "plugins", "show", "acme.group_gap")
    assert done.returncode == 0, done.stderr
    assert "acme.group_gap  (fairness)" in done.stdout
    assert "needs         groups (entries take min_group_size, default 30)" in done.stdout
    assert "  gap.{metric}  (minimize, sorted asc)" in done.stdout
    assert "  worst_group.{metric}  (the metric's direction)" in done.stdout

    shown = json.loads(_aibench(site, "plugins", "show", "acme.overall", "--json").stdout)
    assert shown["kind"] == "robustness" and shown["needs"] == []
    assert [s["pattern"] for s in shown["summaries"]] == ["score.{metric}", "constant", "agreement.*"]


def test_a_v1_bundle_gets_the_analysis_columns_in_its_leaderboard_and_scores_txt(site: Path, tmp_path: Path) -> None:
    from wrapkit import bundle_copy, edit_manifest

    bundle = bundle_copy("wine-v1", tmp_path)
    edit_manifest(bundle, plugins=[{"id": "acme-analyses"}], robustness=[
        {"use": "acme.overall", "key": "overall", "params": {"value": 0.25},
         "columns": [{"summary": "score.macro_f1", "key": "f1_overall", "label": "F1 overall"},
                     {"summary": "constant", "key": "constant", "precision": 2}]}])
    wrapped = tmp_path / "wrapped.zip"
    done = _aibench(site, "wrap", bundle, "-o", wrapped)
    assert done.returncode == 0, done.stdout + done.stderr

    platform = run_as_platform(wrapped, SUBMISSIONS / "wine-v1" / "good", tmp_path / "run", platform="v1")

    assert platform.ok, stderr_of_scoring(platform)
    values = {c["key"]: c["value"] for c in platform.columns}
    assert values["constant"] == 0.25 and values["f1_overall"] == pytest.approx(values["macro_f1"])
    lines = (scoring_output(platform) / "scores.txt").read_text().splitlines()
    assert "constant: 0.25" in lines
    assert runtime_report(platform)["analyses"][0]["summaries"][-1] == {
        "name": "constant", "value": 0.25, "low": None, "high": None, "description": ""}
