"""What the kubernetes executor makes of a Job's life: success, failure, the cluster's deadline, its
own time limit, OOM, a lost pod or Job, a pod never scheduled, an image that cannot be pulled; the
logs collected and the Job deleted; the Jobs of a crashed host process reaped; the credentials
written nowhere. Against the local fake API server of tests/kubefake.py (no cluster)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from codalab_worker_compat import ProcessResult, ResourceLimits
from kubefake import IMAGE, TOKEN, FakeKube, make_executor, serve, step_spec, write_kubeconfig

from aibench_plugins.executors.kubernetes import cleanup

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def fake() -> Iterator[FakeKube]:
    with serve() as server:
        yield server


def _run(fake: FakeKube, tmp_path: Path, scenario: str, **changes: Any) -> tuple[Any, ProcessResult]:
    fake.default = scenario
    spec = step_spec(tmp_path, **changes)
    result = make_executor(fake, tmp_path).start(spec).wait(10)
    assert result is not None
    return spec, result


def test_success_collects_the_log_and_deletes_the_job(fake: FakeKube, tmp_path: Path) -> None:
    spec, result = _run(fake, tmp_path, "exit0")
    assert (result.reason, result.exit_code, result.signal, result.isolation) == ("exited", 0, None, "kubernetes")
    name = fake.created[0]["metadata"]["name"]
    assert spec.stdout.read_text() == f"log of {name}\nline two\n"
    stderr = spec.stderr.read_text()
    assert stderr.startswith("[aibench kubernetes executor] Kubernetes keeps one log for stdout and stderr")
    assert stderr.endswith(f"log of {name}\nline two\n")
    assert fake.deletes == [(name, "Background")] and fake.jobs == {}
    assert result.limits_applied["time_limit_s"].startswith("30 s wall clock")
    assert result.peak_memory_mb is None and "not measured" in result.peak_memory_source
    assert result.elapsed_s > 0


def test_a_failing_program_gives_its_exit_status(fake: FakeKube, tmp_path: Path) -> None:
    _, result = _run(fake, tmp_path, "exit3")
    assert (result.reason, result.exit_code, result.message) == ("exited", 3, "")
    assert fake.jobs == {}


def test_the_clusters_deadline_is_a_timeout(fake: FakeKube, tmp_path: Path) -> None:
    _, result = _run(fake, tmp_path, "deadline")
    assert (result.reason, result.exit_code, result.signal) == ("timeout", None, 9)
    assert "activeDeadlineSeconds 330" in result.message


def test_the_time_limit_from_the_containers_start_deletes_the_job(fake: FakeKube, tmp_path: Path) -> None:
    fake.default = "hang"
    spec = step_spec(tmp_path, limits=ResourceLimits(time_limit_s=0.3))
    process = make_executor(fake, tmp_path).start(spec)
    assert process.wait(0.05) is None  # still running
    result = process.wait(10)
    assert result is not None and (result.reason, result.exit_code, result.signal) == ("timeout", None, 9)
    assert "time limit of 0.3 s exceeded: the Job was deleted" in result.message
    assert fake.jobs == {} and fake.deletes[0][1] == "Background"
    assert "log of aibench-scoring-" in spec.stdout.read_text()  # read before the deletion


def test_kill_deletes_the_job_and_keeps_the_result(fake: FakeKube, tmp_path: Path) -> None:
    fake.default = "hang"
    process = make_executor(fake, tmp_path).start(step_spec(tmp_path, limits=ResourceLimits()))
    result = process.kill()
    assert (result.reason, result.exit_code) == ("killed", None) and fake.jobs == {}
    assert process.kill() is result and process.wait() is result


def test_oom_killed_is_oom(fake: FakeKube, tmp_path: Path) -> None:
    _, result = _run(fake, tmp_path, "oom", limits=ResourceLimits(memory_mb=256))
    assert (result.reason, result.exit_code) == ("oom", 137)
    assert "more than its memory limit of 256 MiB" in result.message and "OOMKilled" in result.message


def test_a_lost_pod_is_an_infrastructure_error(fake: FakeKube, tmp_path: Path) -> None:
    _, result = _run(fake, tmp_path, "lost")
    assert (result.reason, result.exit_code) == ("error", None)
    assert "was lost before its container ended" in result.message
    assert "an infrastructure failure, not the program's" in result.message


def test_a_job_that_vanishes_is_an_infrastructure_error(fake: FakeKube, tmp_path: Path) -> None:
    _, result = _run(fake, tmp_path, "vanish")
    assert result.reason == "error" and "disappeared from the namespace default before it ended" in result.message


def test_a_pod_never_scheduled_is_not_the_participants_timeout(fake: FakeKube, tmp_path: Path) -> None:
    _, result = _run(fake, tmp_path, "unschedulable")
    assert result.reason == "error"
    assert "never started the program before the Job's deadline" in result.message
    assert "Unschedulable: 0/3 nodes are available: 3 Insufficient nvidia.com/gpu" in result.message


def test_an_image_that_cannot_be_pulled_fails_at_once(fake: FakeKube, tmp_path: Path) -> None:
    _, result = _run(fake, tmp_path, "pull")
    assert result.reason == "error" and "ErrImagePull: manifest unknown" in result.message
    assert fake.jobs == {}


_CRASHING_HOST = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from codalab_worker_compat import ProcessSpec
    from aibench_plugins.executors.kubernetes import KubernetesExecutorPlugin

    folder = Path(sys.argv[2])
    executor = KubernetesExecutorPlugin().create({"image": sys.argv[3], "kubeconfig": sys.argv[1], "poll_s": 0.02})
    executor.watch = sys.argv[4] == "watch"
    process = executor.start(ProcessSpec("program", ("sleep", "1000"), "/tmp", folder / "out", folder / "err"))
    print(process.name, executor.watcher, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
""")


def _crash(fake: FakeKube, tmp_path: Path, watch: bool) -> tuple[Path, str]:
    """Run a host process that submits a Job and is SIGKILLed; the kubeconfig and the Job's name."""
    fake.default = "hang"
    config = write_kubeconfig(tmp_path / "credentials", fake.url)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "compat")])}
    crashed = subprocess.run([sys.executable, "-c", _CRASHING_HOST, str(config), str(tmp_path), IMAGE,
                              "watch" if watch else "no"], capture_output=True, text=True, env=env, timeout=60)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    name, watcher = crashed.stdout.split()
    assert (watcher != "None") is watch
    return config, name


def test_the_watcher_deletes_the_jobs_of_its_killed_host_process_at_once(fake: FakeKube, tmp_path: Path) -> None:
    _, orphan = _crash(fake, tmp_path, watch=True)
    deadline = time.monotonic() + 20
    while orphan in fake.job_names() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert orphan not in fake.job_names() and (orphan, "Background") in fake.deletes


def test_the_jobs_of_a_crashed_host_process_are_reaped_by_the_next_executor(fake: FakeKube, tmp_path: Path) -> None:
    config, orphan = _crash(fake, tmp_path, watch=False)
    assert orphan in fake.job_names()
    # a Job of this (live) process and one of another host sharing the namespace stay
    live = make_executor(fake, tmp_path, volume_claim=None, volume_root=None)
    mine = live.start(step_spec(tmp_path, mounts={}, read_only=frozenset()))
    other = {**fake.created[0], "metadata": {**fake.created[0]["metadata"], "name": "aibench-other-host",
                                             "labels": {**fake.created[0]["metadata"]["labels"],
                                                        "aibench.owner-host": "another-worker"}}}
    with fake.lock:
        fake.add_job("default", other)
    assert live.reaped == [orphan]
    assert sorted(fake.job_names()) == sorted([mine.name, "aibench-other-host"])
    assert ("aibench-other-host", "Background") not in fake.deletes and (orphan, "Background") in fake.deletes
    assert cleanup({"kubeconfig": str(config)}) == []  # nothing orphaned is left; the live owner's Job stays
    assert mine.name in fake.job_names()
    mine.kill()


def test_cleanup_reaps_from_a_command(fake: FakeKube, tmp_path: Path) -> None:
    fake.default = "hang"
    executor = make_executor(fake, tmp_path, volume_claim=None, volume_root=None)
    executor.start(step_spec(tmp_path, mounts={}, read_only=frozenset()))
    job = fake.created[0]
    dead = {**job, "metadata": {**job["metadata"], "name": "aibench-dead-owner",
                                "labels": {**job["metadata"]["labels"], "aibench.owner-pid": "999999999"}}}
    with fake.lock:
        fake.add_job("default", dead)
    assert cleanup({"kubeconfig": str(tmp_path / "credentials" / "kubeconfig")}) == ["aibench-dead-owner"]


def test_the_credentials_are_written_nowhere(fake: FakeKube, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A whole run through the executor, the credentials from KUBECONFIG (a bearer token): the
    token reaches the API server and no file of the ledger, the run folder, the report or the logs."""
    from aibench_plugins.run.runner import run_bundle

    config = write_kubeconfig(tmp_path / "credentials", fake.url)
    monkeypatch.setenv("KUBECONFIG", str(config))
    home, volume = tmp_path / "home", tmp_path / "volume"
    volume.mkdir()
    monkeypatch.setenv("AIBENCH_HOME", str(home))
    fake.default = "exit3"
    report = run_bundle(REPO / "bundles" / "iris-v2", REPO / "examples" / "submissions" / "iris-v2" / "good",
                        executor="kubernetes", ledger_path=home / "ledger.sqlite3", work_dir=volume / "run",
                        executor_options={"image": IMAGE, "volume_claim": "aibench-work", "volume_root": str(volume),
                                          "poll_s": 0.02})
    assert report.result.status == "failed"  # the fake ran nothing: the scoring program "exited 3"
    assert fake.created and all(auth == f"Bearer {TOKEN}" for _, _, auth in fake.requests)
    scanned = [p for p in tmp_path.rglob("*") if p.is_file() and "credentials" not in p.parts]
    assert any(p.name == "ledger.sqlite3" for p in scanned) and any(p.suffix == ".json" for p in scanned)
    assert [p for p in scanned if TOKEN.encode() in p.read_bytes()] == []


def test_a_whole_run_through_a_docker_kubelet_scores_as_the_local_executor(fake: FakeKube, tmp_path: Path) -> None:
    """The fake's ``docker`` scenario runs each pod's container with the local Docker engine (the
    claim = a folder bound at each subPath): iris-v2 then scores exactly as with ``local``."""
    import docker

    from aibench_plugins.run.runner import run_bundle

    engine = docker.from_env()
    try:
        image_id = str(engine.images.get(os.environ.get("AIBENCH_TEST_IMAGE", "codalab-compat/py312:bookworm")).id)
    finally:
        engine.close()
    image, volume = f"codalab-compat/py312@{image_id}", tmp_path / "volume"
    volume.mkdir()
    fake.default, fake.images[image], fake.claims["aibench-work"] = "docker", image_id, volume
    config = write_kubeconfig(tmp_path / "credentials", fake.url)
    bundle, good = REPO / "bundles" / "iris-v2", REPO / "examples" / "submissions" / "iris-v2" / "good"
    report = run_bundle(bundle, good, executor="kubernetes", ledger_path=tmp_path / "ledger.sqlite3",
                        work_dir=volume / "run", executor_options={
                            "image": image, "kubeconfig": str(config), "volume_claim": "aibench-work",
                            "volume_root": str(volume), "poll_s": 0.05})
    local = run_bundle(bundle, good, ledger_path=tmp_path / "ledger.sqlite3", work_dir=tmp_path / "local")
    assert report.result.status == "finished", report.result.message
    assert report.result.scores is not None and local.result.scores is not None
    assert report.result.scores == local.result.scores
    assert fake.jobs == {} and len(fake.created) >= 1


def test_through_the_docker_kubelet_the_time_limit_kills_the_container(fake: FakeKube, tmp_path: Path) -> None:
    import docker

    engine = docker.from_env()
    try:
        image_id = str(engine.images.get(os.environ.get("AIBENCH_TEST_IMAGE", "codalab-compat/py312:bookworm")).id)
        image = f"codalab-compat/py312@{image_id}"
        fake.default, fake.images[image], fake.claims["aibench-work"] = "docker", image_id, tmp_path / "volume"
        spec = step_spec(tmp_path, argv=("sh", "-c", "echo started; sleep 60"), cwd="/tmp",
                         limits=ResourceLimits(time_limit_s=1))
        result = make_executor(fake, tmp_path, image=image).start(spec).wait(30)
        assert result is not None and (result.reason, result.exit_code) == ("timeout", None)
        assert "started" in spec.stdout.read_text()
        deadline = time.monotonic() + 15
        while engine.containers.list(all=True, filters={"label": "aibench-kubefake"}) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert engine.containers.list(all=True, filters={"label": "aibench-kubefake"}) == []
    finally:
        engine.close()
