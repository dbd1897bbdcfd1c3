"""Wrapped bundles in real Docker containers, as a platform's worker runs them: the plain
py312-like image of ``compat/images`` (no aibench installed, network off), the hardened
Docker executor, the page rendered in headless Chromium. Without a Docker engine or the
image these tests fail saying what to install (``.ci/run`` provides both)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from codalab_worker_compat import LocalExecutor, RunResult, load_bundle, run_submission
from wrapkit import (
    BUNDLES,
    SUBMISSIONS,
    VENV_BIN,
    bundle_copy,
    edit_manifest,
    install_faults_plugin,
    wrap,
)

PY_IMAGE = os.environ.get("AIBENCH_TEST_IMAGE", "codalab-compat/py312:bookworm")
IRIS_GOOD = SUBMISSIONS / "iris-v2" / "good"


@pytest.fixture(scope="module")
def executor() -> object:
    try:
        from codalab_worker_compat import DockerExecutor

        docker_executor = DockerExecutor(PY_IMAGE)
    except Exception as error:  # noqa: BLE001 - any reason there is no engine or image fails these tests
        pytest.fail(f"these tests need a Docker engine and the image {PY_IMAGE} (make images; .ci/run does both): "
                    f"{error}")
    yield docker_executor
    docker_executor.close()


@pytest.fixture(scope="module")
def wrapped_iris(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return wrap(BUNDLES / "iris-v2", tmp_path_factory.mktemp("wrapped") / "iris.zip")


def _run(bundle: Path, submission: Path, executor: object, work: Path, worker: str = "codabench") -> RunResult:
    return run_submission(load_bundle(bundle), submission, executor, work, worker=worker)  # type: ignore[arg-type]


def _output(result: RunResult) -> Path:
    return next(s.output_dir for s in result.steps if s.step == "scoring")


def _aibench_containers(executor: object) -> list[object]:
    """The containers this test process's executors left (others' on a shared engine are theirs)."""
    return list(executor.client.containers.list(  # type: ignore[attr-defined]
        all=True, filters={"label": f"aibench.owner-pid={os.getpid()}"}))


def test_the_image_has_no_aibench_and_no_network(executor: object) -> None:
    client = executor.client  # type: ignore[attr-defined]
    log = client.containers.run(PY_IMAGE, ["python3", "-c", "import importlib.util as u; print("
                                           "u.find_spec('aibench_plugins'), u.find_spec('numpy') is not None)"],
                                remove=True, network_mode="none")
    assert log.decode().split() == ["None", "True"]


def test_wrapped_bundle_in_the_plain_image_keeps_original_scores_adds_plugin_columns_and_renders(
        executor: object, wrapped_iris: Path, tmp_path: Path) -> None:
    plain = _run(BUNDLES / "iris-v2", IRIS_GOOD, executor, tmp_path / "plain")
    wrapped = _run(wrapped_iris, IRIS_GOOD, executor, tmp_path / "wrapped")
    assert plain.status == "finished" and wrapped.status == "finished", wrapped.message
    assert plain.row is not None and wrapped.row is not None
    assert wrapped.row.values["accuracy"] == plain.row.values["accuracy"]
    added = {k: v for k, v in wrapped.row.values.items() if k != "accuracy"}
    assert len(added) == 9 and all(v is not None for v in added.values()), added  # 3 metrics x (overall, public, private)
    page = _output(wrapped) / "detailed_results.html"
    chromium = shutil.which("chromium") or pytest.fail("apt-get install -y chromium (.ci/run installs it)")
    args = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}"]
    shot = tmp_path / "page.png"
    subprocess.run([*args, f"--screenshot={shot}", "--window-size=1200,1600", page.as_uri()],
                   capture_output=True, timeout=120, check=True)
    assert shot.stat().st_size > 10_000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    dom = subprocess.run([*args, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120,
                         check=True).stdout
    for text in ("Balanced accuracy (public)", "Matthews corr. (private)", "Measurements",
                 "scoring program wall time", "Provenance"):
        assert text in dom, text
    assert not _aibench_containers(executor)


def test_the_local_executor_gives_the_same_scores_as_docker(executor: object, wrapped_iris: Path,
                                                            tmp_path: Path) -> None:
    in_docker = _run(wrapped_iris, IRIS_GOOD, executor, tmp_path / "docker")
    previous = os.environ["PATH"]
    os.environ["PATH"] = f"{VENV_BIN}:{previous}"
    try:
        local = _run(wrapped_iris, IRIS_GOOD, LocalExecutor(), tmp_path / "local")
    finally:
        os.environ["PATH"] = previous
    assert local.status == in_docker.status == "finished"
    assert json.loads((_output(local) / "scores.json").read_text()) == \
        json.loads((_output(in_docker) / "scores.json").read_text())


def test_faulty_plugins_in_the_container_leave_the_original_scores_and_show_on_the_page(
        executor: object, tmp_path: Path) -> None:
    import subprocess as sp
    import sys

    site = install_faults_plugin(tmp_path / "site", tmp_path / "sources")
    bundle = bundle_copy("iris-v2", tmp_path)
    edit_manifest(bundle, plugins=[{"id": "acme-faults"}], splits={}, limits={"plugin_time_limit_s": 2},
                  metrics=[{"use": "acme.raises", "key": "raises"}, {"use": "acme.hangs", "key": "hangs"}])
    out = tmp_path / "faults.zip"
    done = sp.run([sys.executable, "-m", "aibench_plugins", "wrap", str(bundle), "-o", str(out)],
                  capture_output=True, text=True, env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"}, timeout=300)
    assert done.returncode == 0, done.stderr
    result = _run(out, IRIS_GOOD, executor, tmp_path / "run")
    assert result.status == "finished" and result.row is not None
    assert result.row.values["raises"] is None and result.row.values["hangs"] is None
    assert float(result.row.values["accuracy"] or 0) == pytest.approx(0.9555555556)
    page = (_output(result) / "detailed_results.html").read_text()
    assert "acme.raises always fails" in page and "timed out after 2 s" in page
    assert not _aibench_containers(executor)


def test_wrapped_ingestion_measures_in_the_participants_container(executor: object, tmp_path: Path) -> None:
    out = wrap(BUNDLES / "digits-ingestion-v2", tmp_path / "digits.zip")
    result = _run(out, SUBMISSIONS / "digits-ingestion-v2" / "good", executor, tmp_path / "run")
    assert result.status == "finished", result.message
    report = json.loads((_output(result) / "aibench" / "report.json").read_text())
    by = {m["name"]: m["measured_by"] for m in report["measurements"]}
    assert by["peak memory of the participant's run"] == "ingestion"
    assert by["ingestion program wall time"] == "worker"
    assert report["wrapped"]["runtime"]["python"].startswith("3.11")  # the image's Python, not this venv's


def test_aibench_run_of_a_wrapped_zip_in_docker_records_the_pinned_image(wrapped_iris: Path, tmp_path: Path) -> None:
    import sys

    result = subprocess.run([sys.executable, "-m", "aibench_plugins", "run", str(wrapped_iris), str(IRIS_GOOD),
                             "--executor", "docker", "--image", PY_IMAGE, "--json"],
                            capture_output=True, text=True, env=os.environ | {"AIBENCH_HOME": str(tmp_path)},
                            timeout=300)
    report = json.loads(result.stdout)
    assert result.returncode == 0, result.stderr
    assert report["executor"]["image_id"].startswith("sha256:") and report["isolation"] == "docker"
    values = {c["key"]: c["value"] for c in report["columns"]}
    assert len(values) == 10 and all(v is not None for v in values.values())  # accuracy + 3 metrics x 3 splits
    assert report["detailed_results"].endswith("scoring/output/detailed_results.html")
    history = subprocess.run([sys.executable, "-m", "aibench_plugins", "history", "--json"], capture_output=True,
                             text=True, env=os.environ | {"AIBENCH_HOME": str(tmp_path)}, timeout=60)
    assert json.loads(history.stdout)["runs"][0]["image_id"] == report["executor"]["image_id"]
