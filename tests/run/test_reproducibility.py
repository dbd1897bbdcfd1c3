"""The reproducibility record of a run (aibench_plugins.run.reproducibility): its fields on a real
run of bundles/iris-v2, the same document in the ledger and in report.json, a run killed
half-way that still has it, its cost, and the hashes it takes once."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from aibench_plugins.run.hashing import sha256_of_path, sha256_of_path_and_parts, sha256_of_zip_part
from aibench_plugins.core.errors import LedgerError
from aibench_plugins.run.ledger import Ledger
from aibench_plugins.run.runner import run_bundle

REPO = Path(__file__).resolve().parents[2]
BUNDLES, SUBMISSIONS = REPO / "bundles", REPO / "examples" / "submissions"
IRIS, GOOD = BUNDLES / "iris-v2", SUBMISSIONS / "iris-v2" / "good"


def test_a_run_records_what_is_needed_to_run_it_again(tmp_path: Path) -> None:
    report = run_bundle(IRIS, GOOD, ledger_path=tmp_path / "ledger.sqlite3", work_dir=tmp_path / "run")
    assert report.ok
    document = report.reproducibility
    assert document["version"] == 1
    inputs = document["inputs"]
    assert inputs["bundle"] == {"path": str(IRIS), "sha256": sha256_of_path(IRIS), "kind": "folder"}
    assert inputs["submission"] == {"path": str(GOOD), "sha256": sha256_of_path(GOOD), "kind": "folder"}
    assert inputs["manifest"]["sha256"] == report.manifest_sha256
    assert inputs["programs"] == {
        "scoring_program": {"path": "scoring_program", "sha256": sha256_of_path(IRIS / "scoring_program")},
        "reference_data": {"path": "reference_data", "sha256": sha256_of_path(IRIS / "reference_data")}}
    asked = document["run"]
    assert (asked["platform"], asked["executor"], asked["use_plugins"]) == ("codabench", "local", True)
    assert asked["limits"]["effective"]["memory_mb"] == {"value": 2048, "source": "aibench.json /limits/memory_mb"}
    assert asked["limits"]["given"] == {}
    assert document["image"] is None  # the local executor runs no image
    assert document["engine"]["describe"]["executor"] == "local"
    assert document["engine"]["distribution"] == "aibench-plugins"
    software = document["software"]
    assert software["aibench"] and software["codalab_worker_compat"] and software["python"]
    assert {"id": "aibench.classification", "distribution": "aibench-plugins", "version": software["aibench"],
            "builtin": True} in software["plugins"]
    assert software["interpreters"]["scoring program"]["packages"]["numpy"]
    assert document["seeds"]["processes"]["PYTHONHASHSEED"] is None  # the platforms set none: nor does aibench
    hardware = document["hardware"]
    assert hardware["cpu_count"] >= 1 and hardware["memory_mb"] > 0 and hardware["kernel"] and hardware["os"]
    assert hardware["gpu"]["status"] in ("present", "none", "unavailable")
    assert hardware["gpu"]["status"] == "present" or hardware["gpu"]["reason"]
    with Ledger.open(tmp_path / "ledger.sqlite3") as ledger:
        assert ledger.get(report.run_id).reproducibility == document
    from aibench_plugins.evaluation.report import REPORT_FILE

    assert json.loads((tmp_path / "run" / REPORT_FILE).read_text())["run"]["reproducibility"] == document
    assert report.to_json()["reproducibility"] == document


def test_the_seeds_of_the_manifest_entries_are_recorded(tmp_path: Path) -> None:
    report = run_bundle(BUNDLES / "fairness-v2", SUBMISSIONS / "fairness-v2" / "good",
                        ledger_path=tmp_path / "ledger.sqlite3", work_dir=tmp_path / "run")
    manifest = json.loads((BUNDLES / "fairness-v2" / "aibench.json").read_text())
    expected = {f"{kind}.{entry['key']}": entry.get("seed", 0)
                for kind in ("fairness", "robustness", "complexity") for entry in manifest.get(kind, [])}
    assert expected and report.reproducibility["seeds"]["entries"] == expected


def test_a_run_killed_half_way_still_has_its_record(tmp_path: Path) -> None:
    env = os.environ | {"AIBENCH_HOME": str(tmp_path)}
    process = subprocess.Popen([sys.executable, "-m", "aibench_plugins", "run", str(BUNDLES / "digits-ingestion-v2"),
                                str(SUBMISSIONS / "digits-ingestion-v2" / "hang")], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ledger_path, deadline, recorded = tmp_path / "ledger.sqlite3", time.monotonic() + 60, False
    try:
        while not recorded and time.monotonic() < deadline:  # the record is written before the first step
            time.sleep(0.05)
            try:
                with Ledger.open(ledger_path, read_only=True) as ledger:
                    recorded = bool(ledger.runs(None))
            except LedgerError:  # not made yet, or being made
                continue
        time.sleep(0.5)  # into the ingestion step, which hangs
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert recorded, "the run was never recorded"
    with Ledger.open(ledger_path) as ledger:
        [record] = ledger.runs(None)
    assert record.status == "interrupted"
    document = record.reproducibility
    assert document["version"] == 1
    assert document["inputs"]["submission"]["sha256"] == sha256_of_path(SUBMISSIONS / "digits-ingestion-v2" / "hang")
    assert set(document["inputs"]["programs"]) == {"ingestion_program", "scoring_program", "input_data",
                                                   "reference_data"}
    assert document["hardware"]["cpu_count"] >= 1


def test_the_record_costs_little_beyond_the_hashes_the_run_takes_anyway(tmp_path: Path) -> None:
    from codalab_worker_compat import load_bundle

    from aibench_plugins.manifest.limits import effective_limits
    from aibench_plugins.run.reproducibility import collect, hash_inputs, program_parts

    bundle = load_bundle(IRIS)
    programs = hash_inputs(IRIS, program_parts(bundle, None, None))[1]
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        collect(bundle=bundle, bundle_path=IRIS, bundle_sha256="0" * 64, programs=programs, submission_path=GOOD,
                submission_sha256="0" * 64, manifest_sha256=None, platform="codabench", phase=None, task=None,
                use_plugins=False, executor="local", described={"executor": "local"}, options={},
                limits=effective_limits(None, None, None), host=None, plan=None)
        timings.append(time.perf_counter() - started)
    assert sorted(timings)[2] < 0.05, timings  # median; the figure is in bench/bench_reproducibility.py


def test_a_folder_and_its_parts_are_hashed_in_one_pass_as_each_alone(tmp_path: Path) -> None:
    shutil.copytree(IRIS, tmp_path / "iris")
    (tmp_path / "iris" / "scoring_program" / "link").symlink_to("score.py")
    (tmp_path / "iris" / "empty").mkdir()
    root, parts = sha256_of_path_and_parts(tmp_path / "iris", ["scoring_program", "reference_data", "logo.png",
                                                               "empty", "absent"])
    assert root == sha256_of_path(tmp_path / "iris")
    for name in ("scoring_program", "reference_data", "logo.png", "empty"):
        assert parts[name] == sha256_of_path(tmp_path / "iris" / name), name
    assert parts["absent"] is None


def test_a_zip_bundle_part_hashes_as_the_same_folder_extracted(tmp_path: Path) -> None:
    archive = tmp_path / "iris.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for path in sorted(IRIS.rglob("*")):
            if path.is_file():
                out.write(path, path.relative_to(IRIS).as_posix())
    assert sha256_of_zip_part(archive, "scoring_program") == sha256_of_path(IRIS / "scoring_program")
    assert sha256_of_zip_part(archive, "logo.png") == sha256_of_path(IRIS / "logo.png")
    assert sha256_of_zip_part(archive, "absent") is None
    report = run_bundle(archive, GOOD, ledger_path=tmp_path / "ledger.sqlite3", work_dir=tmp_path / "run")
    inputs = report.reproducibility["inputs"]
    assert inputs["bundle"]["kind"] == "zip" and inputs["bundle"]["sha256"] == sha256_of_path(archive)
    assert inputs["programs"]["reference_data"]["sha256"] == sha256_of_path(IRIS / "reference_data")


def test_options_that_look_like_credentials_are_never_recorded() -> None:
    from aibench_plugins.run.reproducibility import redact_options

    assert redact_options({"queue": "q", "secret_access_key": "s3cr3t", "api_token": "t", "key": "k",
                           "image": None, "network": False}) == {
        "queue": "q", "secret_access_key": "<redacted>", "api_token": "<redacted>", "key": "<redacted>",
        "network": False}


def test_a_record_that_cannot_be_made_never_fails_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import aibench_plugins.run.reproducibility as reproducibility

    def broken(**_: object) -> dict[str, object]:
        raise OSError("no /proc here")

    monkeypatch.setattr(reproducibility, "collect", broken)
    report = run_bundle(IRIS, GOOD, ledger_path=tmp_path / "ledger.sqlite3", work_dir=tmp_path / "run")
    assert report.ok and report.reproducibility == {"version": 1, "error": "OSError: no /proc here"}
    with Ledger.open(tmp_path / "ledger.sqlite3") as ledger:
        assert ledger.get(report.run_id).reproducibility == report.reproducibility


def test_the_hardware_facts_do_not_depend_on_what_this_process_imported() -> None:
    """A rerun from another process (the CLI) must not see other hardware because the first run's
    process had imported torch (the complexity meters' fingerprint reads torch's threads then)."""
    code = ("import json, sys; from aibench_plugins.run.reproducibility import _hardware; "
            "sys.argv[1:] and __import__('torch'); print(json.dumps(_hardware(), sort_keys=True))")
    plain, with_torch = (subprocess.run([sys.executable, "-c", code, *extra], capture_output=True, text=True,
                                        timeout=120, check=True).stdout for extra in ((), ("torch",)))
    assert json.loads(plain) == json.loads(with_torch)
