"""``aibench leaderboard`` end to end: runs of a copy of bundles/iris-v2 recorded by ``aibench run``
in a temporary ledger, a folder of submissions, the errors, the JSON against its schema, and the
page in real headless Chromium."""

from __future__ import annotations

import csv
import json
import os
import random
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest

from chromium import chromium_args

REPO = Path(__file__).resolve().parents[2]
IRIS = REPO / "bundles" / "iris-v2"
SCHEMA = json.loads((REPO / "schemas" / "aibench-leaderboard.schema.json").read_text())
LABELS = ("setosa", "versicolor", "virginica")
#: submission -> share of flipped labels (seeded): alpha perfect, beta and gamma close, delta far worse
ERRORS = {"alpha": 0.0, "beta": 0.08, "gamma": 0.1, "delta": 0.5}


def aibench(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"AIBENCH_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "aibench_plugins", *args], capture_output=True, text=True, env=env,
                          timeout=300)


def write_submission(folder: Path, name: str, error: float, drop: int = 0) -> Path:
    with (IRIS / "reference_data" / "labels.csv").open() as source:
        rows = list(csv.reader(source))[1:]
    rng = random.Random(name)
    target = folder / name
    target.mkdir(parents=True)
    with (target / "predictions.csv").open("w") as out:
        out.write("id,label\n")
        for identifier, label in rows[drop:]:
            if rng.random() < error:
                label = rng.choice([x for x in LABELS if x != label])
            out.write(f"{identifier},{label}\n")
    return target


def run(home: Path, bundle: Path, submission: Path) -> dict[str, Any]:
    result = aibench(home, "run", str(bundle), str(submission), "--json")
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


def leaderboard_json(home: Path, bundle: Path, *args: str, replicates: int = 200) -> tuple[int, dict[str, Any]]:
    result = aibench(home, "leaderboard", str(bundle), "--json", "--replicates", str(replicates), *args)
    assert result.stdout, result.stderr[-2000:]
    return result.returncode, json.loads(result.stdout)


def valid(document: dict[str, Any]) -> None:
    errors = [str(e) for e in jsonschema_rs.validator_for(SCHEMA).iter_errors(document)]
    assert not errors, errors[:5]


@pytest.fixture(scope="module")
def phase(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Four submissions of a copy of iris-v2, each run once by ``aibench run`` into a fresh ledger."""
    root = tmp_path_factory.mktemp("phase")
    bundle = root / "iris-v2"
    shutil.copytree(IRIS, bundle)
    reports = {name: run(root / "home", bundle, write_submission(root / "subs", name, error))
               for name, error in ERRORS.items()}
    return {"home": root / "home", "bundle": bundle, "reports": reports, "root": root}


def test_ledger_source_end_to_end(phase: dict[str, Any]) -> None:
    code, document = leaderboard_json(phase["home"], phase["bundle"], replicates=1000)
    assert code == 0, document
    valid(document)
    assert sorted(s["name"] for s in document["submissions"]) == sorted(ERRORS)
    assert document["source"]["kind"] == "ledger" and document["n_cases"] == 45
    # each column's full-data value is the one the run's evaluation session recorded
    by_name = {s["name"]: i for i, s in enumerate(document["submissions"])}
    for column in document["columns"]:
        for name, report in phase["reports"].items():
            recorded = next(c["value"] for c in report["plugin_columns"] if c["key"] == column["key"])
            assert column["values"][by_name[name]] == pytest.approx(recorded, abs=1e-12)
    assert [c["method"] for c in document["columns"]] == ["confusion", "confusion", "confusion"]
    assert document["tiers"][-1]["submissions"] == ["delta"] and len(document["tiers"]) == 2
    assert document["rankings"][0]["entries"][0]["submission"] == "alpha"
    again = aibench(phase["home"], "leaderboard", str(phase["bundle"]), "--json", "--seed", "3").stdout
    assert again == aibench(phase["home"], "leaderboard", str(phase["bundle"]), "--json", "--seed", "3").stdout
    assert again != aibench(phase["home"], "leaderboard", str(phase["bundle"]), "--json", "--seed", "4").stdout
    _, few = leaderboard_json(phase["home"], phase["bundle"], replicates=100)  # too few for Holm over 12 pairs
    assert len(few["tiers"]) == 1 and any("--replicates 241 or more" in note for note in few["notes"])


def test_text_output_is_a_table_with_intervals_ranks_and_tiers(phase: dict[str, Any]) -> None:
    result = aibench(phase["home"], "leaderboard", str(phase["bundle"]), "--replicates", "100",
                     "--ranking", '[{"kind": "metric", "column": "mcc"}, {"kind": "dynascore", '
                                  '"weights": {"macro_f1": 0.5, "mcc": 0.5}, "performance": "macro_f1"}]')
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1].split() == ["SUBMISSION", "SCORE", "INTERVAL", "RANK", "MEDIAN", "RANK", "[INTERVAL]", "TIER"]
    alpha = next(line for line in lines[3:7] if line.startswith("alpha"))
    assert alpha.split()[:4] == ["alpha", "1", "[1,", "1]"] and alpha.split()[-1] == "1"
    assert "dynascore macro_f1+mcc (higher first" in result.stdout
    assert "Tiers (paired bootstrap, Holm, alpha 0.05): 1: alpha" in result.stdout
    assert "bootstrap  [" not in result.stderr  # no progress bar off a terminal


def test_help_teaches_the_sources_rankings_and_examples() -> None:
    result = aibench(REPO, "leaderboard", "--help")
    assert result.returncode == 0
    for words in ("latest finished run", "--submissions DIR", "Dynascore", "mean_rank", "metric_order",
                  "a submission starts a new tier", "aibench leaderboard bundles/iris-v2 --json"):
        assert words in " ".join(result.stdout.split()), words


def test_only_the_latest_run_of_a_submission_unless_every_run(tmp_path: Path) -> None:
    bundle = tmp_path / "iris-v2"
    shutil.copytree(IRIS, bundle)
    subs = {name: write_submission(tmp_path / "subs", name, ERRORS[name]) for name in ("alpha", "delta")}
    first = run(tmp_path / "home", bundle, subs["alpha"])
    run(tmp_path / "home", bundle, subs["delta"])
    latest = run(tmp_path / "home", bundle, subs["alpha"])
    _, document = leaderboard_json(tmp_path / "home", bundle)
    runs = {s["name"]: s["run_id"] for s in document["submissions"]}
    assert sorted(runs) == ["alpha", "delta"] and runs["alpha"] == latest["run_id"]
    [skipped] = document["skipped"]
    assert first["run_id"][:8] in skipped["name"] and "older run" in skipped["reason"]
    _, every = leaderboard_json(tmp_path / "home", bundle, "--every-run")
    assert sorted(s["name"] for s in every["submissions"]) == ["alpha", "alpha#2", "delta"]
    # gc removes the oldest folder: that run has no predictions left, and says so
    gc = aibench(tmp_path / "home", "gc", "--keep", "2", "--max-age", "off", "--max-size", "1K")
    assert gc.returncode == 0, gc.stderr
    _, after = leaderboard_json(tmp_path / "home", bundle, "--every-run")
    [collected] = after["skipped"]
    assert first["run_id"][:8] in collected["name"] and "removed by 'aibench gc'" in collected["reason"]
    assert sorted(s["name"] for s in after["submissions"]) == ["alpha", "delta"]


def test_no_runs_is_a_clear_error(tmp_path: Path) -> None:
    bundle = tmp_path / "iris-v2"
    shutil.copytree(IRIS, bundle)
    result = aibench(tmp_path / "home", "leaderboard", str(bundle))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "no run ledger at" in result.stderr and "aibench run" in result.stderr
    run(tmp_path / "home", bundle, write_submission(tmp_path / "subs", "alpha", 0.0))
    code, document = leaderboard_json(tmp_path / "home", bundle, "--phase", "Final")
    assert code == 1 and document["status"] == "error" and "no phase 'Final'" in document["message"]
    other = tmp_path / "other"
    shutil.copytree(IRIS, other)
    code, document = leaderboard_json(tmp_path / "home", other)
    assert code == 1 and f"no run of {other} phase 0 (Development)" in document["message"]
    code, document = leaderboard_json(tmp_path / "home", bundle)  # one run: nothing to rank
    assert code == 1 and "at least 2" in document["message"]


def test_runs_scored_against_different_reference_ids_are_refused(tmp_path: Path) -> None:
    bundle = tmp_path / "iris-v2"
    shutil.copytree(IRIS, bundle)
    run(tmp_path / "home", bundle, write_submission(tmp_path / "subs", "alpha", 0.0))
    labels = bundle / "reference_data" / "labels.csv"
    lines = labels.read_text().splitlines(keepends=True)
    labels.write_text("".join(lines[:1] + lines[6:]))  # the organiser changed the reference data: 5 ids fewer
    for ids_file in ("public_ids.txt", "private_ids.txt"):
        path = bundle / "reference_data" / ids_file
        kept = {row.split(",")[0] for row in lines[6:]}
        path.write_text("".join(line for line in path.read_text().splitlines(keepends=True) if line.strip() in kept))
    run(tmp_path / "home", bundle, write_submission(tmp_path / "subs", "beta", 0.1, drop=5))
    code, document = leaderboard_json(tmp_path / "home", bundle)
    assert code == 1
    assert "other reference ids" in document["message"] and "different reference data" in document["message"]


def test_folder_of_submissions_reads_folders_and_zips_and_skips_code_submissions(tmp_path: Path) -> None:
    folder = tmp_path / "subs"
    for name in ("alpha", "beta", "delta"):
        write_submission(folder, name, ERRORS[name])
    with zipfile.ZipFile(folder / "gamma.zip", "w") as archive:
        archive.write(write_submission(tmp_path / "zipped", "gamma", ERRORS["gamma"]) / "predictions.csv",
                      "predictions.csv")
    code_submission = folder / "model"
    code_submission.mkdir()
    (code_submission / "metadata").write_text("command: python run.py\n")
    (folder / "notes.txt").write_text("not a submission\n")
    shutil.rmtree(folder / "beta")
    (folder / "beta").mkdir()
    (folder / "beta" / "predictions.csv").write_text("id,label\niris-136,virginica\n")  # most ids missing
    code, document = leaderboard_json(tmp_path / "home", IRIS, "--submissions", str(folder))
    assert code == 0, document
    valid(document)
    assert sorted(s["name"] for s in document["submissions"]) == ["alpha", "delta", "gamma"]
    reasons = {s["name"]: s["reason"] for s in document["skipped"]}
    assert "a code submission" in reasons["model"] and "aibench run" in reasons["model"]
    assert "have no prediction" in reasons["beta"]
    assert document["source"] == {"kind": "folder", "location": str(folder)}


def test_page_in_headless_chromium_has_the_blob_plot_significance_map_and_group_bars(
        phase: dict[str, Any], tmp_path: Path) -> None:
    for name, report in phase["reports"].items():  # the host helper adds these; built by hand here
        path = Path(report["work_dir"]) / "report.json"
        data = json.loads(path.read_text())
        data["analyses"] = [{"kind": "fairness", "component": "aibench.group_fairness", "plugin": "aibench",
                             "key": "fairness", "label": "Fairness", "min_group_size": 10, "dropped_groups": 1,
                             "summaries": [], "tables": [], "notes": [], "flags": [],
                             "groups": [{"group": {"sex": "F"}, "n": 20, "measure": "balanced_accuracy",
                                         "value": 0.9, "low": 0.8, "high": 0.95},
                                        {"group": {"sex": "M"}, "n": 25, "measure": "balanced_accuracy",
                                         "value": 0.7, "low": 0.6, "high": 0.8},
                                        {"group": {"sex": "X-rare"}, "n": 3, "measure": "balanced_accuracy",
                                         "value": 0.1, "low": 0.0, "high": 0.5}]}]
        path.write_text(json.dumps(data))
    page = tmp_path / "leaderboard.html"
    code, document = leaderboard_json(phase["home"], phase["bundle"], "--html", str(page), replicates=1000)
    assert code == 0
    valid(document)
    assert len(document["fairness"]) == 4
    assert "X-rare" not in json.dumps(document) and "X-rare" not in page.read_text()  # below min_group_size
    html = page.read_text()
    assert "<script" not in html and "http://" not in html and "https://" not in html
    dom = subprocess.run([*chromium_args(tmp_path), "--dump-dom", page.as_uri()], capture_output=True, text=True,
                         timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    rendered = dom.stdout
    for svg in ('class="blob-plot"', 'class="significance-map"', 'class="group-bars"'):
        assert svg in rendered, svg
    assert rendered.count('class="blob"') >= 4 and rendered.count('class="better"') >= 3
    assert rendered.count('class="bar"') == 8 and "sex=F" in rendered
    assert rendered.count("<tr><td>") == 4 + 3 and "Next in rank" in rendered  # the ranking; adjacent pairs


def test_progress_bar_on_a_terminal_and_never_with_json(phase: dict[str, Any]) -> None:
    import pty

    for extra, shown in (((), True), (("--json",), False)):
        master, slave = pty.openpty()
        env = os.environ | {"AIBENCH_HOME": str(phase["home"]), "COLUMNS": "120"}
        process = subprocess.run([sys.executable, "-m", "aibench_plugins", "leaderboard", str(phase["bundle"]),
                                  "--replicates", "300", *extra], stdout=subprocess.PIPE, stderr=slave, env=env,
                                 timeout=300)
        os.close(slave)
        chunks = []
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        os.close(master)
        assert process.returncode == 0
        assert ("bootstrap" in b"".join(chunks).decode(errors="replace")) is shown, extra


def test_runs_given_by_id_must_be_of_the_bundle_and_phase(phase: dict[str, Any], tmp_path: Path) -> None:
    ids = [r["run_id"][:10] for r in phase["reports"].values()]
    code, document = leaderboard_json(phase["home"], phase["bundle"], *(a for i in ids[:3] for a in ("--run", i)))
    assert code == 0 and len(document["submissions"]) == 3
    other = tmp_path / "iris-copy"
    shutil.copytree(IRIS, other)
    code, document = leaderboard_json(phase["home"], other, *(a for i in ids for a in ("--run", i)))
    assert code == 1 and f"not of {other} phase 0" in document["message"]
    code, document = leaderboard_json(phase["home"], phase["bundle"], "--run", "ffffffffff")
    assert code == 1 and "no run has id 'ffffffffff'" in document["message"]


BAD_INPUT = [
    ("corrupt-ledger", "cannot be used as a run ledger"),
    ("no-manifest", "has no aibench.json"),
    ("unknown-split", "--split 'hidden': the manifest declares no such split"),
    ("unknown-column", "no metric column 'accuracy'"),
    ("wilcoxon-without-per-case", "--test wilcoxon: ranking 'metric balanced_accuracy' has no per-case values"),
    ("bad-ranking", "--ranking at /kind: expected one of"),
]


@pytest.mark.parametrize(("case", "message"), BAD_INPUT, ids=[case for case, _ in BAD_INPUT])
def test_bad_input_is_a_clear_error_never_a_traceback(phase: dict[str, Any], tmp_path: Path, case: str,
                                                     message: str) -> None:
    args: list[str] = [str(phase["bundle"])]
    if case == "corrupt-ledger":
        ledger = tmp_path / "ledger.sqlite3"
        data = (phase["home"] / "ledger.sqlite3").read_bytes()
        ledger.write_bytes(data[: len(data) // 3])
        args += ["--ledger", str(ledger)]
    elif case == "no-manifest":
        bare = tmp_path / "bare"
        shutil.copytree(IRIS, bare)
        (bare / "aibench.json").unlink()
        args = [str(bare)]
    else:
        args += {"unknown-split": ["--split", "hidden"], "unknown-column": ["--column", "accuracy"],
                 "wilcoxon-without-per-case": ["--test", "wilcoxon"],
                 "bad-ranking": ["--ranking", '{"kind": "borda"}']}[case]
    for extra in ((), ("--json",)):
        result = aibench(phase["home"], "leaderboard", *args, "--replicates", "20", *extra)
        assert result.returncode == 1, result.stdout + result.stderr
        assert "Traceback" not in result.stdout + result.stderr and "internal error" not in result.stderr
        said = json.loads(result.stdout)["message"] if extra else result.stderr
        assert message in " ".join(said.split()), said


def test_code_submissions_are_analysed_from_their_runs_and_skipped_in_a_folder(tmp_path: Path) -> None:
    digits = REPO / "bundles" / "digits-ingestion-v2"
    good = REPO / "examples" / "submissions" / "digits-ingestion-v2" / "good"
    bundle = tmp_path / "digits"
    shutil.copytree(digits, bundle)
    folder = tmp_path / "code"
    shutil.copytree(good, folder / "centroids")
    half = folder / "half-the-pixels"  # the same classifier on the first half of the features only
    half.mkdir()
    source = (good / "model.py").read_text()
    (half / "model.py").write_text(source.replace("zip(features, self.centroids[label])",
                                                  "list(zip(features, self.centroids[label]))[: len(features) // 2]"))
    for submission in (folder / "centroids", half):
        run(tmp_path / "home", bundle, submission)
    code, document = leaderboard_json(tmp_path / "home", bundle, replicates=300)
    assert code == 0, document
    valid(document)
    assert sorted(s["name"] for s in document["submissions"]) == ["centroids", "half-the-pixels"]
    code, document = leaderboard_json(tmp_path / "home", bundle, "--submissions", str(folder))
    assert code == 1
    assert document["message"].count("a code submission (the phase has an ingestion program") == 2


def test_a_split_resamples_its_own_cases(phase: dict[str, Any]) -> None:
    code, document = leaderboard_json(phase["home"], phase["bundle"], "--split", "private")
    assert code == 0, document
    private = (phase["bundle"] / "reference_data" / "private_ids.txt").read_text().split()
    assert document["n_cases"] == len(private) and document["split"] == "private"
    assert [c["key"] for c in document["columns"]] == ["balanced_accuracy_private", "macro_f1_private", "mcc_private"]
    by_name = {s["name"]: i for i, s in enumerate(document["submissions"])}
    for column in document["columns"]:
        for name, report in phase["reports"].items():
            recorded = next(c["value"] for c in report["plugin_columns"] if c["key"] == column["key"])
            assert column["values"][by_name[name]] == pytest.approx(recorded, abs=1e-12)
