"""Issue 9, items 4 and 5 at the CLI: ``aibench run`` says what the local executor does not
protect against on every run with a code submission (text and ``--json``), and ``aibench
validate`` / ``aibench run`` warn about ``ingestion_only_during_scoring``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml

from test_run import BUNDLES, SUBMISSIONS, aibench, run_json

DIGITS = BUNDLES / "digits-ingestion-v2"


def test_run_with_code_submission_warns_about_the_local_executor(tmp_path: Path) -> None:
    code, report = run_json(tmp_path, DIGITS, SUBMISSIONS / "digits-ingestion-v2" / "good")
    assert code == 0, report
    [warning] = [w for w in report["warnings"] if "local executor" in w]
    assert "does NOT protect against" in warning and "--executor docker" in warning
    text = aibench(tmp_path, "run", str(DIGITS), str(SUBMISSIONS / "digits-ingestion-v2" / "good"))
    assert "warning: the local executor ran participant code under bubblewrap" in text.stderr


def test_run_without_sandbox_warns_loudly(tmp_path: Path) -> None:
    _, report = run_json(tmp_path, DIGITS, SUBMISSIONS / "digits-ingestion-v2" / "good", "--isolation", "none")
    assert any(w.startswith("NO SANDBOX") for w in report["warnings"]), report["warnings"]


def test_result_submission_has_no_executor_warning(tmp_path: Path) -> None:
    _, report = run_json(tmp_path, BUNDLES / "iris-v2", SUBMISSIONS / "iris-v2" / "good")
    assert not [w for w in report["warnings"] if "local executor" in w or "NO SANDBOX" in w]


def test_ingestion_during_scoring_is_warned_by_validate_and_run(tmp_path: Path) -> None:
    bundle = tmp_path / "digits"
    shutil.copytree(DIGITS, bundle)
    spec = yaml.safe_load((bundle / "competition.yaml").read_text())
    spec["tasks"][0]["ingestion_only_during_scoring"] = True
    (bundle / "competition.yaml").write_text(yaml.safe_dump(spec))
    checked = aibench(tmp_path, "validate", str(bundle), "--json")
    problems = json.loads(checked.stdout)["problems"]
    [problem] = [p for p in problems if "ingestion_only_during_scoring" in p["message"]]
    assert problem["severity"] == "warning" and "can read the reference data" in problem["message"]
    _, report = run_json(tmp_path, bundle, SUBMISSIONS / "digits-ingestion-v2" / "good")
    assert any("ingestion_only_during_scoring" in w and "Organiser:" in w for w in report["warnings"])
