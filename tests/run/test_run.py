"""``aibench run`` on the example bundles: expected scores or the platform's failure,
runs recorded in the ledger, hangs killed at the time limit, killed runs shown as
interrupted."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
BUNDLES, SUBMISSIONS = REPO / "bundles", REPO / "examples" / "submissions"


def aibench(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"AIBENCH_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "aibench_plugins", *args], capture_output=True, text=True, env=env)


def run_json(home: Path, bundle: Path, submission: Path, *args: str) -> tuple[int, dict[str, Any]]:
    result = aibench(home, "run", str(bundle), str(submission), "--json", *args)
    assert result.stdout, result.stderr
    return result.returncode, json.loads(result.stdout)


# bundle, submission, platform -> expected row (status finished) or failure message (status failed)
CASES = [
    ("iris-v2", "good", "codabench", {"accuracy": 0.955556}),
    ("iris-v2", "good", "ai4mediabench", {"accuracy": 0.955556}),
    ("iris-v2", "wrong-format", "codabench", "Child task failed or non-zero return code (program_rc=1)"),
    ("iris-v2", "wrong-format", "ai4mediabench", "Could not find scores file"),
    ("wine-v1", "good", "v1", {"accuracy": 0.851852}),
    ("wine-v1", "good", "codabench", {"accuracy": 0.851852}),
    ("wine-v1", "wrong-format", "v1", "scoring program exited with code 1"),
    ("wine-v1", "stray-metadata", "v1", {"accuracy": 0.851852}),
    ("wine-v1", "stray-metadata", "codabench", "Bad or empty zip file"),
    ("digits-ingestion-v2", "good", "codabench", {"accuracy": 0.86}),
    ("digits-ingestion-v2", "good", "ai4mediabench", {"accuracy": 0.86}),
    ("digits-ingestion-v2", "crash", "codabench", "program_rc=1"),
    ("digits-ingestion-v2", "wrong-format", "ai4mediabench", "Could not find scores file"),
    ("hardcoded-paths-v2", "good", "codabench", {"rmse": 55.968033, "mae": 44.6461}),
    ("hardcoded-paths-v2", "wrong-format", "codabench", "program_rc=1"),
]


@pytest.mark.parametrize(("bundle", "submission", "platform", "expected"), CASES,
                         ids=[f"{b}-{s}-{p}" for b, s, p, _ in CASES])
def test_example_submission_gives_the_expected_outcome(tmp_path: Path, bundle: str, submission: str, platform: str,
                                                       expected: dict[str, float] | str) -> None:
    code, report = run_json(tmp_path, BUNDLES / bundle, SUBMISSIONS / bundle / submission, "--platform", platform,
                            "--no-plugins")
    row = {c["key"]: c["value"] for c in report["columns"]}
    if isinstance(expected, dict):
        assert (code, report["status"]) == (0, "finished"), report
        assert {k: row[k] for k in expected} == pytest.approx(expected)
    else:
        assert (code, report["status"]) == (1, "failed")
        assert expected in report["message"]
        assert all(v is None for v in row.values())
    [record] = json.loads(aibench(tmp_path, "history", "--json").stdout)["runs"]
    assert record["id"] == report["run_id"] and record["status"] == report["status"]
    assert record["platform"] == platform and record["phase_name"] == report["phase"]["name"]
    assert len(record["bundle_sha256"]) == 64 and len(record["submission_sha256"]) == 64


def test_text_output_shows_the_leaderboard_row_and_where_outputs_are(tmp_path: Path) -> None:
    result = aibench(tmp_path, "run", str(BUNDLES / "iris-v2"), str(SUBMISSIONS / "iris-v2" / "good"))
    assert result.returncode == 0, result.stderr
    assert re.search(r"^Accuracy +accuracy +0\.9556 +scoring program$", result.stdout, re.MULTILINE)
    assert re.search(r"^Macro F1 \(public\) +macro_f1_public +0\.8857 +aibench\.f1$", result.stdout, re.MULTILINE)
    assert "outputs: " in result.stdout and "scoring program stdout: " in result.stdout
    assert result.stdout.rstrip().endswith("status: finished")


def test_run_of_a_zip_submission(tmp_path: Path) -> None:
    archive = shutil.make_archive(str(tmp_path / "sub"), "zip", SUBMISSIONS / "iris-v2" / "good")
    code, report = run_json(tmp_path, BUNDLES / "iris-v2", Path(archive))
    assert code == 0 and report["columns"][0]["value"] == pytest.approx(0.955556)


def _short_limit(tmp_path: Path, seconds: int) -> Path:
    bundle = tmp_path / "digits"
    shutil.copytree(BUNDLES / "digits-ingestion-v2", bundle)
    spec = bundle / "competition.yaml"
    spec.write_text(spec.read_text().replace("execution_time_limit: 30", f"execution_time_limit: {seconds}"))
    return bundle


def _marker_processes(*markers: str) -> list[str]:
    """Command lines of live processes that contain every marker."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if all(marker in text for marker in markers):
            found.append(text)
    return found


def _sandboxed_program(run_marker: str, program: str) -> bool:
    """Whether ``program`` runs inside a bubblewrap sandbox whose command line holds ``run_marker``:
    a live process whose command names it and whose parent is that sandbox's bwrap."""
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            cmdline = (status.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if program not in cmdline or "bwrap" in cmdline.split(" ", 1)[0]:
                continue
            ppid = next(line.split()[1] for line in status.read_text().splitlines() if line.startswith("PPid:"))
            parent = Path(f"/proc/{ppid}/cmdline").read_bytes().decode(errors="replace")
        except (OSError, StopIteration):
            continue
        if "bwrap" in parent and run_marker in parent:
            return True
    return False


@pytest.mark.parametrize("platform", ["codabench", "ai4mediabench"])
def test_hanging_submission_is_killed_at_the_time_limit_and_recorded(tmp_path: Path, platform: str) -> None:
    bundle = _short_limit(tmp_path, 2)
    started = time.monotonic()
    code, report = run_json(tmp_path, bundle, SUBMISSIONS / "digits-ingestion-v2" / "hang", "--platform", platform)
    assert time.monotonic() - started < 15
    assert code == 1 and report["message"] == "Execution Time Limit exceeded. Limit was 2 seconds"
    [process] = report["steps"][0]["processes"]
    assert process["reason"] == "timeout" and process["exit_code"] is None
    assert any("does not enforce the time limit" in w for w in report["warnings"]) == (platform == "codabench")
    assert not _marker_processes(str(tmp_path))
    [record] = json.loads(aibench(tmp_path, "history", "--json").stdout)["runs"]
    assert record["status"] == "failed" and record["message"] == report["message"]
    assert record["exit_codes"] == {"prediction": {"ingestion program": None}}


def test_ledger_survives_a_run_killed_half_way(tmp_path: Path) -> None:
    bundle = _short_limit(tmp_path, 60)
    env = os.environ | {"AIBENCH_HOME": str(tmp_path)}
    process = subprocess.Popen([sys.executable, "-m", "aibench_plugins", "run", str(bundle),
                                str(SUBMISSIONS / "digits-ingestion-v2" / "hang")], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not _sandboxed_program(str(tmp_path), "ingestion.py") and time.monotonic() < deadline:
        time.sleep(0.1)
    # once the program itself runs in the sandbox, bwrap's --die-with-parent holds at every level
    # (killed in the milliseconds in which bwrap clones its pid namespace's init, that init would stay)
    assert _sandboxed_program(str(tmp_path), "ingestion.py"), "the hanging ingestion never started"
    process.send_signal(signal.SIGKILL)
    process.wait()
    [record] = json.loads(aibench(tmp_path, "history", "--json").stdout)["runs"]
    assert record["status"] == "interrupted"
    assert "ended without recording a result" in record["message"]
    assert record["bundle_path"] == str(bundle) and record["platform"] == "codabench"
    assert record["outputs"]["work_dir"].startswith(str(tmp_path / "runs"))
    deadline = time.monotonic() + 5  # bubblewrap's --die-with-parent ends the sandboxed process
    while _marker_processes(str(tmp_path)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _marker_processes(str(tmp_path))


def test_unknown_phase_is_a_clear_error(tmp_path: Path) -> None:
    result = aibench(tmp_path, "run", str(BUNDLES / "iris-v2"), str(SUBMISSIONS / "iris-v2" / "good"), "--phase", "7")
    assert result.returncode == 1 and "no phase 7 in the bundle (phases: 0)" in result.stderr


def test_hard_coded_paths_without_isolation_fail_with_a_warning(tmp_path: Path) -> None:
    code, report = run_json(tmp_path, BUNDLES / "hardcoded-paths-v2", SUBMISSIONS / "hardcoded-paths-v2" / "good",
                            "--isolation", "none")
    assert code == 1 and report["isolation"] == "path-rewrite"
    messages = [p["message"] for s in report["steps"] for p in s["processes"]]
    assert any("not rewritten" in m.lower() or "NOT rewritten" in m for m in messages), messages


def test_scores_line_read_differently_by_v1_and_v2_is_reported(tmp_path: Path) -> None:
    """§8.1: `accuracy:0.85` (no space) scores on v1 and gives n/a on v2; the run says so."""
    import zipfile

    bundle = tmp_path / "wine"
    shutil.copytree(BUNDLES / "wine-v1", bundle)
    score = bundle / "scoring_program" / "score.py"
    score.write_text(score.read_text().replace('f"accuracy: {accuracy:.6f}\\n"', 'f"accuracy:{accuracy:.6f}\\n"'))
    with zipfile.ZipFile(bundle / "scoring_program.zip", "w") as archive:
        for path in sorted((bundle / "scoring_program").iterdir()):
            archive.write(path, path.name)
    code, v1 = run_json(tmp_path, bundle, SUBMISSIONS / "wine-v1" / "good", "--platform", "v1")
    assert code == 0 and v1["columns"][0]["value"] == pytest.approx(0.851852)
    assert any("scores.txt line 1 'accuracy:0.851852': v1 reads" in w for w in v1["warnings"]), v1["warnings"]
    code, v2 = run_json(tmp_path, bundle, SUBMISSIONS / "wine-v1" / "good", "--platform", "codabench")
    assert v2["status"] == "finished" and v2["columns"][0]["value"] is None


def test_multi_task_phase_runs_the_chosen_task(tmp_path: Path) -> None:
    """§5.2: Codabench runs each task of a phase as its own child submission; aibench runs one."""
    bundle = tmp_path / "iris"
    shutil.copytree(BUNDLES / "iris-v2", bundle)
    spec = bundle / "competition.yaml"
    spec.write_text(spec.read_text().replace("tasks: [0]", "tasks: [0, 1]").replace(
        "solutions: []", "  - index: 1\n    name: copy\n    scoring_program: scoring_program\n"
                         "    reference_data: reference_data\nsolutions: []"))
    code, report = run_json(tmp_path, bundle, SUBMISSIONS / "iris-v2" / "good")
    assert code == 1 and report["status"] == "error"
    assert "has 2 tasks; Codabench runs each as its own child submission" in report["message"]
    code, report = run_json(tmp_path, bundle, SUBMISSIONS / "iris-v2" / "good", "--task", "1")
    assert code == 0 and report["columns"][0]["value"] == pytest.approx(0.955556)


def test_finished_run_without_scores_says_why(tmp_path: Path) -> None:
    """§5.9, §12: NaN in scores.json: the run finishes, no score reaches the leaderboard, and the
    report says so."""
    bundle = tmp_path / "iris"
    shutil.copytree(BUNDLES / "iris-v2", bundle)
    score = bundle / "scoring_program" / "score.py"
    score.write_text(score.read_text().replace('{"accuracy": correct / len(truth)}', '{"accuracy": float("nan")}'))
    code, report = run_json(tmp_path, bundle, SUBMISSIONS / "iris-v2" / "good")
    assert code == 0 and report["status"] == "finished" and report["columns"][0]["value"] is None
    assert any("no score reaches the leaderboard" in w and "NaN" in w for w in report["warnings"]), report["warnings"]


def test_manifest_metrics_are_new_columns_beside_the_original_scores(tmp_path: Path) -> None:
    """Three built-in metrics from aibench.json, one of them on a public/private split: each value
    equals the metric computed on that subset alone (scikit-learn)."""
    import csv

    from sklearn.metrics import balanced_accuracy_score, f1_score, matthews_corrcoef

    code, report = run_json(tmp_path, BUNDLES / "iris-v2", SUBMISSIONS / "iris-v2" / "good")
    assert code == 0, report
    assert [c["key"] for c in report["columns"]] == ["accuracy"]
    plugin = {c["key"]: c for c in report["plugin_columns"]}
    assert list(plugin) == ["balanced_accuracy", "balanced_accuracy_public", "balanced_accuracy_private",
                            "macro_f1", "macro_f1_public", "macro_f1_private", "mcc", "mcc_public", "mcc_private"]
    def labels(path: Path) -> dict[str, str]:
        with path.open() as handle:
            return {row["id"]: row["label"] for row in csv.DictReader(handle)}

    truth = labels(BUNDLES / "iris-v2" / "reference_data" / "labels.csv")
    predicted = labels(SUBMISSIONS / "iris-v2" / "good" / "predictions.csv")
    for split in ("public", "private"):
        ids = (BUNDLES / "iris-v2" / "reference_data" / f"{split}_ids.txt").read_text().split()
        y_true, y_pred = [truth[i] for i in ids], [predicted[i] for i in ids]
        assert plugin[f"balanced_accuracy_{split}"]["value"] == pytest.approx(balanced_accuracy_score(y_true, y_pred))
        assert plugin[f"macro_f1_{split}"]["value"] == pytest.approx(f1_score(y_true, y_pred, average="macro"))
        assert plugin[f"mcc_{split}"]["value"] == pytest.approx(matthews_corrcoef(y_true, y_pred))
        assert plugin[f"macro_f1_{split}"]["title"] == f"Macro F1 ({split})"
    provenance = plugin["balanced_accuracy"]["provenance"]
    assert provenance["metric_id"] == "aibench.balanced_accuracy" and provenance["distribution"] == "aibench-plugins"
    [record] = json.loads(aibench(tmp_path, "history", "--json").stdout)["runs"]
    assert record["scores"]["macro_f1_private"] == plugin["macro_f1_private"]["value"]
    page = Path(report["detailed_results"]).read_text()
    assert "Macro F1 (private)" in page and "Metrics across splits" in page and "<script" not in page
    assert record["manifest_sha256"] == report["manifest_sha256"]


def test_failing_check_refuses_the_submission_before_scoring(tmp_path: Path) -> None:
    submission = tmp_path / "sub"
    shutil.copytree(SUBMISSIONS / "iris-v2" / "good", submission)
    (submission / "notes.txt").write_text("my notes")
    code, report = run_json(tmp_path, BUNDLES / "iris-v2", submission)
    assert code == 1 and report["status"] == "failed"
    assert "refused before scoring" in report["message"] and "notes.txt: unexpected file" in report["message"]
    assert report["steps"] == []
    assert report["check_problems"][0]["check"] == "aibench.required_files"


@pytest.mark.parametrize("required", [False, True], ids=["optional", "required"])
def test_failing_metric_never_touches_the_original_scores(tmp_path: Path, required: bool) -> None:
    bundle = tmp_path / "iris"
    shutil.copytree(BUNDLES / "iris-v2", bundle)
    manifest = json.loads((bundle / "aibench.json").read_text())
    # numeric references (so that aibench validate lets it run), label predictions: it fails when it runs
    ids = [line.split(",")[0] for line in (bundle / "reference_data" / "labels.csv").read_text().splitlines()[1:]]
    (bundle / "reference_data" / "values.csv").write_text("id,value\n" + "".join(f"{i},1.5\n" for i in ids))
    manifest["data"]["values"] = {"file": "values.csv", "id": "id", "columns": ["value"], "from": "reference"}
    manifest["metrics"].append({"use": "aibench.mae", "key": "mae", "required": required, "splits": ["all"],
                                "inputs": {"references": "values"}})
    (bundle / "aibench.json").write_text(json.dumps(manifest))
    code, report = run_json(tmp_path, bundle, SUBMISSIONS / "iris-v2" / "good")
    assert report["columns"][0]["value"] == pytest.approx(0.955556)
    [failure] = report["plugin_failures"]
    assert failure["component"] == "aibench.mae" and failure["key"] == "mae" and "MetricInputError" in failure["message"]
    assert {c["key"]: c["value"] for c in report["plugin_columns"]}["mae"] is None
    if required:
        assert code == 1 and report["status"] == "failed" and "a required plugin failed" in report["message"]
    else:
        assert code == 0 and report["status"] == "finished"


def test_manifest_with_problems_refuses_the_run(tmp_path: Path) -> None:
    bundle = tmp_path / "iris"
    shutil.copytree(BUNDLES / "iris-v2", bundle)
    (bundle / "aibench.json").write_text('{"schema_version": 1, "colour": "blue"}')
    code, report = run_json(tmp_path, bundle, SUBMISSIONS / "iris-v2" / "good")
    assert code == 1 and report["status"] == "error"
    assert report["problems"][0]["pointer"] == "/colour"


def _bundle_with(tmp_path: Path, manifest: dict[str, Any], reference_files: dict[str, str]) -> Path:
    """A copy of iris-v2 with another manifest and extra reference files."""
    bundle = tmp_path / "bundle"
    shutil.copytree(BUNDLES / "iris-v2", bundle)
    (bundle / "aibench.json").write_text(json.dumps({"schema_version": 1, **manifest}))
    for name, text in reference_files.items():
        (bundle / "reference_data" / name).write_text(text)
    return bundle


def test_ranking_metric_reads_runs_and_qrels_from_tables(tmp_path: Path) -> None:
    """TREC-style rows (query, item, score) against (query, item, relevance), per query split."""
    qrels = "query,item,relevance\nq1,a,1\nq1,b,0\nq1,c,1\nq2,d,1\n"
    run = "query,item,score\nq1,a,0.9\nq1,b,0.8\nq1,c,0.1\nq2,e,0.7\nq2,d,0.5\n"
    bundle = _bundle_with(tmp_path, {
        "data": {"run": {"from": "submission", "file": "run.csv", "id": "query", "columns": ["item", "score"]},
                 "qrels": {"file": "qrels.csv", "id": "query", "columns": ["item", "relevance"]},
                 "predictions": {"file": "predictions.csv", "id": "id", "columns": ["label"]},
                 "references": {"file": "labels.csv", "id": "id", "columns": ["label"]}},
        "splits": {"q1": {"ids": ["q1"]}},
        "metrics": [{"use": "aibench.map", "key": "map", "inputs": {"predictions": "run", "references": "qrels"},
                     "splits": ["all", "q1"]}]}, {"qrels.csv": qrels})
    submission = tmp_path / "sub"
    shutil.copytree(SUBMISSIONS / "iris-v2" / "good", submission)
    (submission / "run.csv").write_text(run)
    code, report = run_json(tmp_path, bundle, submission)
    assert code == 0, report
    values = {c["key"]: c["value"] for c in report["plugin_columns"]}
    ap_q1 = (1 / 1 + 2 / 3) / 2  # relevant a at rank 1, c at rank 3
    ap_q2 = (1 / 2) / 1  # relevant d at rank 2
    assert values == pytest.approx({"map": (ap_q1 + ap_q2) / 2, "map_q1": ap_q1})


def test_multilabel_metric_reads_label_sets_from_a_column(tmp_path: Path) -> None:
    from sklearn.metrics import f1_score
    from sklearn.preprocessing import MultiLabelBinarizer

    truth = {"x1": "cat|dog", "x2": "dog", "x3": "", "x4": "bird|cat"}
    guess = {"x1": "cat", "x2": "dog|bird", "x3": "cat", "x4": "bird|cat"}
    bundle = _bundle_with(tmp_path, {
        "data": {"tags": {"from": "submission", "file": "tags.csv", "id": "id", "columns": ["tags"],
                          "separator": "|"},
                 "truth": {"file": "tags.csv", "id": "id", "columns": ["tags"], "separator": "|"},
                 "predictions": {"file": "predictions.csv", "id": "id", "columns": ["label"]},
                 "references": {"file": "labels.csv", "id": "id", "columns": ["label"]}},
        "metrics": [{"use": "aibench.multilabel_f1", "key": "tags_f1", "params": {"average": "micro"},
                     "inputs": {"predictions": "tags", "references": "truth"}}]},
        {"tags.csv": "id,tags\n" + "".join(f"{k},{v}\n" for k, v in truth.items())})
    submission = tmp_path / "sub"
    shutil.copytree(SUBMISSIONS / "iris-v2" / "good", submission)
    (submission / "tags.csv").write_text("id,tags\n" + "".join(f"{k},{v}\n" for k, v in reversed(guess.items())))
    code, report = run_json(tmp_path, bundle, submission)
    assert code == 0, report
    binarizer = MultiLabelBinarizer().fit([["bird", "cat", "dog"]])
    expected = f1_score(binarizer.transform([v.split("|") if v else [] for v in truth.values()]),
                        binarizer.transform([v.split("|") if v else [] for v in guess.values()]), average="micro")
    assert report["plugin_columns"][0]["value"] == pytest.approx(expected)


def test_segmentation_metric_reads_label_maps_from_numpy(tmp_path: Path) -> None:
    import numpy as np
    from sklearn.metrics import jaccard_score

    rng = np.random.default_rng(0)
    truth = rng.integers(0, 3, (5, 4, 6))
    guess = np.where(rng.random(truth.shape) < 0.8, truth, rng.integers(0, 3, truth.shape))
    ids = np.array([f"img{i}" for i in range(5)])
    bundle = _bundle_with(tmp_path, {
        "data": {"masks": {"from": "submission", "file": "masks.npz", "id": "id", "columns": ["mask"]},
                 "truth": {"file": "masks.npz", "id": "id", "columns": ["mask"]},
                 "predictions": {"file": "predictions.csv", "id": "id", "columns": ["label"]},
                 "references": {"file": "labels.csv", "id": "id", "columns": ["label"]}},
        "metrics": [{"use": "aibench.iou", "key": "miou", "params": {"num_classes": 3},
                     "inputs": {"predictions": "masks", "references": "truth"}}]}, {})
    np.savez(bundle / "reference_data" / "masks.npz", ids=ids, values=truth)
    submission = tmp_path / "sub"
    shutil.copytree(SUBMISSIONS / "iris-v2" / "good", submission)
    order = np.array([3, 0, 4, 1, 2])  # joined on ids, not on row order
    np.savez(submission / "masks.npz", ids=ids[order], values=guess[order])
    code, report = run_json(tmp_path, bundle, submission)
    assert code == 0, report
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = jaccard_score(truth.ravel(), guess.ravel(), average="macro")
    assert report["plugin_columns"][0]["value"] == pytest.approx(expected)


def test_label_set_check_takes_the_manifest_concepts(tmp_path: Path) -> None:
    """A label-set check given no labels uses the concepts the manifest declares."""
    concepts = [{"label": "setosa", "definition": "Iris setosa"}, {"label": "versicolor"}, {"label": "virginica"}]
    bundle = _bundle_with(tmp_path, {
        "concepts": concepts,
        "checks": [{"use": "aibench.label_set",
                    "params": {"file": "predictions.csv", "id": "id", "column": "label"}}]}, {})
    submission = tmp_path / "sub"
    shutil.copytree(SUBMISSIONS / "iris-v2" / "good", submission)
    code, report = run_json(tmp_path, bundle, submission)
    assert code == 0, report
    predictions = submission / "predictions.csv"
    predictions.write_text(predictions.read_text().replace("virginica", "virginca", 1))
    code, report = run_json(tmp_path, bundle, submission)
    assert code == 1 and "refused before scoring" in report["message"]
    assert "virginca" in report["message"] and report["steps"] == []


def test_each_process_wall_time_and_peak_memory_are_reported_as_measured_by_the_executor(tmp_path: Path) -> None:
    status, report = run_json(tmp_path, BUNDLES / "digits-ingestion-v2", SUBMISSIONS / "digits-ingestion-v2" / "good")
    assert status == 0
    measured = {(m["step"], m["name"]): m for m in report["measurements"]}
    processes = [(s["step"], p) for s in report["steps"] for p in s["processes"]]
    assert set(measured) == {(step, f"{p['name']} {what}") for step, p in processes
                             for what in ("wall time", "peak memory")}
    assert all(m["measured_by"] == "executor" and m["trust"].startswith("host") for m in measured.values())
    for step, process in processes:  # each process's peak, in the steps and as a measurement
        peak = measured[(step, f"{process['name']} peak memory")]
        assert peak["unit"] == "MiB" and peak["status"] == "measured" and peak["tool"], peak
        assert peak["value"] == process["peak_memory_mb"] and 1 < peak["value"] < 4096, peak
    page = Path(report["detailed_results"]).read_text()
    assert "Measurements" in page and "ingestion program wall time" in page and "ingestion program peak memory" in page
