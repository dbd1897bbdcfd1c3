"""One evaluation session, three ways in (issue 10): for every example bundle and every example
submission, the plugin results in ``report.json`` are identical through ``aibench run``, the
wrapped bundle under the local executor and the wrapped bundle under the Docker executor, and
every report validates against ``schemas/aibench-report.schema.json``.

Real parts: the wrapped bundle runs as a platform's worker runs it (``use_plugins=False``: the
host knows nothing of aibench), once with the local executor and this venv's python3 on PATH,
once in the plain py312-like image (no aibench installed, network off) with the hardened Docker
executor. The digits bundle's time limit is cut to 10 s (its plugins get the limit less 5 s) so that
the hanging submissions end soon.
``memory-hog`` and ``fork-bomb`` run only in containers (examples/submissions/README.md: the
local executor has no memory or process limit as root), so their local legs are not generated.
The PyTorch bundle (digits-complexity-v2) needs torch, which the plain image lacks (its image,
compat/images/worker_torch.py, is opt-in), so its Docker leg is not generated; and its complexity
and efficiency columns are measurements (times, memory) that differ from run to run by nature, so
they are left out of the comparison (tests/run/test_digits_complexity.py checks them).
A bundle with a ``submissions`` section (API-integrated submissions, iris-endpoint-v2) cannot be
wrapped at all (the gateway runs under ``aibench run`` only): tests/manifest/test_submissions_section.py
checks that wrap refuses it, tests/run/test_api_submissions.py runs it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from wrapkit import BUNDLES, SUBMISSIONS, bundle_copy, run_as_platform, runtime_report, wrap

from aibench_plugins.evaluation.report import REPORT_FILE, plugin_results, report_problems
from aibench_plugins.run.runner import run_bundle

PY_IMAGE = os.environ.get("AIBENCH_TEST_IMAGE", "codalab-compat/py312:bookworm")
CONTAINERS_ONLY = {"memory-hog", "fork-bomb"}
NEEDS_TORCH = {"digits-complexity-v2"}
CASES = [(bundle.name, submission.name) for bundle in sorted(BUNDLES.iterdir()) if (bundle / "aibench.json").is_file()
         and "submissions" not in json.loads((bundle / "aibench.json").read_text())
         for submission in sorted((SUBMISSIONS / bundle.name).iterdir()) if submission.is_dir()]
WAYS = ["aibench run", "wrapped, local executor", "wrapped, docker executor"]


def _ways(submission: str, bundle: str = "") -> list[str]:
    if bundle in NEEDS_TORCH:
        return [w for w in WAYS if "docker" not in w]
    return [w for w in WAYS if "docker" in w] if submission in CONTAINERS_ONLY else WAYS


def _measured_keys(bundle: Path) -> set[str]:
    """The column keys of the manifest's complexity and efficiency entries: measurements."""
    document = json.loads((bundle / "aibench.json").read_text())
    entries = [*document.get("complexity", []), *document.get("efficiency", [])]
    return {str(c["key"]) for e in entries for c in e.get("columns", [])} | {str(e["key"]) for e in entries}


def _without(results: dict[str, Any], keys: set[str]) -> dict[str, Any]:
    return {**results, "plugin_columns": [c for c in results["plugin_columns"] if c["key"] not in keys]}


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    """Each example bundle (digits with a 10 s limit) and its wrapped zip, made once."""
    made: dict[str, tuple[Path, Path]] = {}
    root = tmp_path_factory.mktemp("bundles")
    for name in sorted({b for b, _ in CASES}):
        bundle = bundle_copy(name, root)
        if name == "digits-ingestion-v2":  # its hanging submissions; the others keep their limits, so that
            spec = bundle / "competition.yaml"  # the plugins' share (the limit less 5 s) fits a loaded machine
            spec.write_text(spec.read_text().replace("execution_time_limit: 30", "execution_time_limit: 10"))
        made[name] = (bundle, wrap(bundle, root / f"{name}.wrapped.zip"))
    return made


NOTHING_RAN = {"plugin_columns": [], "plugin_failures": [], "check_problems": []}


def _document(way: str, bundle: Path, wrapped: Path, submission: Path, work: Path) -> dict[str, Any] | None:
    """The report document of one way in; ``None`` when the platform never started the wrapped
    scoring program (the prediction step was stopped: time limit), so nothing of aibench ran."""
    if way == "aibench run":
        executor = "docker" if submission.name in CONTAINERS_ONLY else "local"
        report = run_bundle(bundle, submission, work_dir=work, ledger_path=work.parent / "ledger.db",
                            executor=executor, image=PY_IMAGE if executor == "docker" else None)
        document = json.loads((work / REPORT_FILE).read_text())
        assert document == json.loads(json.dumps(report.to_json()["report"], default=str)), "--json embeds report.json"
        return dict(document)
    if way == "wrapped, local executor":
        report = run_as_platform(wrapped, submission, work)
    else:
        report = run_bundle(wrapped, submission, work_dir=work, ledger_path=work.parent / "ledger.db",
                            use_plugins=False, executor="docker", image=PY_IMAGE)
    if not any(s.step == "scoring" for s in report.result.steps):
        return None
    return runtime_report(report)


@pytest.mark.parametrize(("bundle", "submission"), CASES, ids=[f"{b}/{s}" for b, s in CASES])
def test_plugin_results_are_identical_on_every_path_and_every_report_is_valid(
        bundles: dict[str, tuple[Path, Path]], tmp_path: Path, bundle: str, submission: str) -> None:
    source, wrapped = bundles[bundle]
    found = {way: _document(way, source, wrapped, SUBMISSIONS / bundle / submission, tmp_path / str(index))
             for index, way in enumerate(_ways(submission, bundle))}
    for way, document in found.items():
        assert document is not None or way != "aibench run"
        if document is not None:
            assert report_problems(document) == [], way
            assert document["producer"] == ("aibench run" if way == "aibench run" else "wrapped runtime")
    measured = _measured_keys(source)
    results = {way: _without(plugin_results(d), measured) if d is not None else None for way, d in found.items()}
    first, *others = results
    for way in others:
        # where the platform never started the scoring program nothing of aibench ran on that path:
        # then the host's session must have found nothing either (its checks passed, no metric ran)
        expected = results[first] if results[way] is not None else NOTHING_RAN
        assert (results[way] or NOTHING_RAN) == expected, f"{way} differs from {first}"
