"""What a plugin's failure means and what it keeps (issue 11, items 10 and 11), the same through
``aibench run`` and a wrapped bundle's runtime: ``required`` on a plugin of the manifest's
``plugins`` makes a failure of its metric fail the submission, as ``required`` on the metric's
entry does; the traceback of the plugin's exception is kept in ``plugin_failures[].traceback``
(capped at 16 KiB) of ``report.json``, of ``aibench run --json`` and of the runtime's report.

Real parts: the ``acme-faults`` distribution is built and installed by pip into a folder
(tests/wrapkit.py); ``aibench run`` and ``aibench wrap`` run as commands with that folder on
``PYTHONPATH``; the wrapped bundle runs under the local executor as a platform's worker runs it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from wrapkit import SUBMISSIONS, bundle_copy, edit_manifest, install_faults_plugin, run_as_platform, runtime_report, \
    stderr_of_scoring

from aibench_plugins.evaluation.report import report_problems
from aibench_plugins.evaluation.session import PluginFailure

IRIS_GOOD = SUBMISSIONS / "iris-v2" / "good"
ACCURACY = 0.9555555555555556


@pytest.fixture(scope="module")
def faults_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return install_faults_plugin(tmp_path_factory.mktemp("site"), tmp_path_factory.mktemp("sources"))


def _aibench(site: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "aibench_plugins", *map(str, args)], capture_output=True, text=True,
                          env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin", "AIBENCH_GC": "0"}, timeout=300)


def _bundle(tmp_path: Path, *, plugin_required: bool) -> Path:
    """iris-v2 with the acme-faults plugin (marked required or not) and two of its metrics, neither
    entry marked required."""
    bundle = bundle_copy("iris-v2", tmp_path)
    entry: dict[str, Any] = {"id": "acme-faults", **({"required": True} if plugin_required else {})}
    edit_manifest(bundle, plugins=[entry], splits={},
                  metrics=[{"use": "acme.raises", "key": "raises"}, {"use": "acme.agreement", "key": "agreement"}])
    return bundle


def _run(site: Path, bundle: Path, work: Path) -> tuple[int, dict[str, Any], dict[str, Any]]:
    """``aibench run --json``: the exit status, the printed document and the run folder's report.json."""
    done = _aibench(site, "run", bundle, IRIS_GOOD, "--json", "--ledger", work.parent / f"{work.name}.db",
                    "--work-dir", work)
    assert done.stdout.startswith("{"), done.stdout + done.stderr
    printed = json.loads(done.stdout)
    return done.returncode, printed, json.loads((work / "report.json").read_text())


def _raised(document: dict[str, Any]) -> dict[str, Any]:
    [failure] = [f for f in document["plugin_failures"] if f["component"] == "acme.raises"]
    return dict(failure)


def _assert_traceback_of_the_plugin(failure: dict[str, Any]) -> None:
    text = failure["traceback"]
    assert text.startswith("Traceback (most recent call last):"), text
    assert 'acme_faults.py", line' in text and "in raises" in text  # the plugin's own frame
    assert text.rstrip().endswith("RuntimeError: acme.raises always fails")
    assert "Traceback" not in failure["message"]  # participants see the message only


def test_required_plugin_whose_metric_raises_fails_the_run(faults_site: Path, tmp_path: Path) -> None:
    status, printed, report = _run(faults_site, _bundle(tmp_path, plugin_required=True), tmp_path / "run")

    assert status == 1
    assert report["status"] == "failed" and "a required plugin failed" in report["message"], report["message"]
    assert _raised(report)["required"] is True
    assert {c["key"]: c["value"] for c in report["columns"]}["accuracy"] == pytest.approx(ACCURACY, abs=1e-9)
    assert printed["report"] == report
    assert report_problems(report) == []


def test_optional_plugin_whose_metric_raises_leaves_the_run_finished(faults_site: Path, tmp_path: Path) -> None:
    status, _, report = _run(faults_site, _bundle(tmp_path, plugin_required=False), tmp_path / "run")

    assert status == 0 and report["status"] == "finished", report["message"]
    assert _raised(report)["required"] is False


def test_metric_traceback_is_kept_in_report_and_json(faults_site: Path, tmp_path: Path) -> None:
    _, printed, report = _run(faults_site, _bundle(tmp_path, plugin_required=False), tmp_path / "run")

    _assert_traceback_of_the_plugin(_raised(report))
    assert _raised(printed) == _raised(printed["report"]) == _raised(report)
    assert report_problems(report) == []


def test_wrapped_runtime_fails_on_a_required_plugin_and_keeps_the_traceback(faults_site: Path,
                                                                          tmp_path: Path) -> None:
    wrapped = tmp_path / "wrapped.zip"
    done = _aibench(faults_site, "wrap", _bundle(tmp_path, plugin_required=True), "-o", wrapped)
    assert done.returncode == 0, done.stdout + done.stderr

    ran = run_as_platform(wrapped, IRIS_GOOD, tmp_path / "run")

    assert not ran.ok
    assert "a required plugin failed" in stderr_of_scoring(ran)
    document = runtime_report(ran)
    assert document["status"] == "failed"
    failure = _raised(document)
    assert failure["required"] is True
    _assert_traceback_of_the_plugin(failure)
    assert report_problems(document) == []


def test_traceback_over_16_kib_keeps_its_start_and_its_end() -> None:
    from aibench_plugins.evaluation.session import TRACEBACK_LIMIT_BYTES, cap_traceback

    def deep(n: int) -> None:  # a chain of 60 exceptions, each with its own long message
        try:
            if n:
                deep(n - 1)
        finally:
            if n < 60:
                raise ValueError(f"level {n}: " + "x" * 400)

    import traceback

    try:
        deep(60)
    except ValueError as error:
        text = "".join(traceback.format_exception(error))
    assert len(text.encode()) > 2 * TRACEBACK_LIMIT_BYTES

    kept = PluginFailure("acme.deep", "metric", "acme-faults", "ValueError", False, "deep", text).traceback

    assert kept is not None and len(kept.encode()) <= TRACEBACK_LIMIT_BYTES
    assert kept.startswith("Traceback (most recent call last):")
    assert kept.rstrip().endswith("ValueError: level 59: " + "x" * 400)
    assert "bytes of the traceback left out" in kept
    assert cap_traceback("short") == "short" and cap_traceback(None) is None
