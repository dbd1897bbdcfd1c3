"""The Docker executor against the real Docker engine (executors.md §2.10, §4(b)).

No mocks: every test starts real containers from a busybox-static image imported in seconds
(dockerimages.py); a few run Python in the image of compat/images. Each test gives its executor
a unique ``aibench.run`` label and checks that no container with it is left. Without a Docker
engine, busybox-static or the built image these tests fail, never skip.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from codalab_worker_compat import (
    DockerExecutor,
    DockerExecutorError,
    ProcessResult,
    ProcessSpec,
    ResourceLimits,
    reap_orphans,
)
from dockerimages import busybox_image, client, containers, python_image


@pytest.fixture(scope="module")
def busybox() -> str:
    return busybox_image()


@pytest.fixture
def label() -> str:
    return f"test-{uuid.uuid4().hex}"


@pytest.fixture
def executor(busybox: str, label: str) -> Iterator[DockerExecutor]:
    with DockerExecutor(busybox, run_label=label) as made:
        yield made
    assert containers(f"aibench.run={label}") == [], "a container was left behind"


@pytest.fixture
def app(tmp_path: Path) -> dict[str, Path]:
    """Host folders for a v2 layout: program, output, data, input/ref (with a file each)."""
    folders = {name: tmp_path / "run" / name for name in ("program", "output", "data", "input", "shared")}
    for folder in folders.values():
        folder.mkdir(parents=True)
    (folders["input"] / "ref").mkdir()
    (folders["input"] / "ref" / "truth.txt").write_text("truth\n")
    (folders["data"] / "d.txt").write_text("data\n")
    (folders["program"] / "run.sh").write_text("echo program ran\n")
    return folders


def spec(tmp_path: Path, *argv: str, app: dict[str, Path] | None = None, limits: ResourceLimits = ResourceLimits(),
         env: dict[str, str] | None = None, name: str = "scoring program") -> ProcessSpec:
    if app is None:
        (tmp_path / "output").mkdir(parents=True, exist_ok=True)
    mounts = {f"/app/{k}": v for k, v in (app or {"output": tmp_path / "output"}).items()}
    read_only = frozenset(mounts) - {"/app/output", "/app/shared"}
    return ProcessSpec(name, argv, "/app/program" if app else "/app/output", tmp_path / "logs" / "stdout.txt",
                       tmp_path / "logs" / "stderr.txt", mounts, env or {}, limits, read_only)


def run(executor: DockerExecutor, process: ProcessSpec, timeout: float = 60) -> ProcessResult:
    result = executor.start(process).wait(timeout)
    assert result is not None, "still running"
    return result


def out(process: ProcessSpec) -> str:
    return process.stdout.read_text()


def err(process: ProcessSpec) -> str:
    return process.stderr.read_text()


# -- hardening, as the process sees it -------------------------------------------------------


def test_hardening_visible_from_inside(executor: DockerExecutor, tmp_path: Path, app: dict[str, Path],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIBENCH_HOST_SECRET", "leaked")
    script = """
        echo "uid $(id -u) gid $(id -g)"
        grep -E '^(CapEff|CapPrm|NoNewPrivs)' /proc/self/status
        echo "net $(ls /sys/class/net | tr '\\n' ' ')"
        touch /rootfile 2>/dev/null && echo "root writable" || echo "root read-only"
        touch /tmp/t && echo "tmp writable"
        [ "$HOME" = /tmp ] && echo "home tmp"
        for d in program data input input/ref; do touch /app/$d/x 2>/dev/null && echo "$d writable" || echo "$d read-only"; done
        cat /app/input/ref/truth.txt /app/data/d.txt
        touch /app/output/o /app/shared/s && echo "output shared writable"
        env
    """
    process = spec(tmp_path, "sh", "-c", textwrap.dedent(script), app=app)
    result = run(executor, process)
    text = out(process)
    assert result.reason == "exited" and result.exit_code == 0, err(process)
    assert "uid 65534 gid 65534" in text
    assert "CapEff:\t0000000000000000" in text and "CapPrm:\t0000000000000000" in text
    assert "NoNewPrivs:\t1" in text
    assert "net lo \n" in text
    assert "root read-only" in text and "tmp writable" in text and "home tmp" in text
    for folder in ("program", "data", "input", "input/ref"):
        assert f"{folder} read-only" in text
    assert "truth\ndata\n" in text and "output shared writable" in text
    assert (app["output"] / "o").is_file() and (app["shared"] / "s").is_file()
    assert "AIBENCH_HOST_SECRET" not in text and "leaked" not in text
    assert "PYTHONUNBUFFERED=1" in text and "LANG=C.UTF-8" in text
    assert result.isolation == "docker"


def test_limits_applied(executor: DockerExecutor, tmp_path: Path) -> None:
    script = """
        for f in /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max; do [ -f $f ] && echo "mem $(cat $f)"; done
        for f in /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes /sys/fs/cgroup/memory.swap.max; do [ -f $f ] && echo "swap $(cat $f)"; done
        for f in /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/pids.max; do [ -f $f ] && echo "pids $(cat $f)"; done
        for f in /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us; do [ -f $f ] && echo "quota $(cat $f)"; done
        [ -f /sys/fs/cgroup/cpu.max ] && echo "cpumax $(cat /sys/fs/cgroup/cpu.max)"
        df -m /dev/shm | tail -1
    """
    process = spec(tmp_path, "sh", "-c", textwrap.dedent(script),
                   limits=ResourceLimits(memory_mb=96, cpus=0.5, pids=40, shm_mb=32))
    result = run(executor, process)
    text = out(process)
    assert result.exit_code == 0, err(process)
    assert f"mem {96 << 20}" in text
    assert f"swap {96 << 20}" in text or "swap 0" in text  # v1: mem+swap = mem; v2: swap.max 0
    assert "pids 40" in text
    assert "quota 50000" in text or "cpumax 50000 100000" in text
    assert text.strip().splitlines()[-1].split()[1] == "32"


def test_exit_code_and_demuxed_logs(executor: DockerExecutor, tmp_path: Path) -> None:
    process = spec(tmp_path, "sh", "-c", "echo to-out; echo to-err >&2; yes line | head -n 200000; exit 3")
    result = run(executor, process)
    assert (result.reason, result.exit_code, result.signal) == ("exited", 3, None)
    assert out(process).startswith("to-out\n") and out(process).count("line\n") == 200000
    assert err(process) == "to-err\n"
    assert 0 <= result.elapsed_s < 30


def test_image_pinned_by_id(busybox: str, tmp_path: Path, label: str) -> None:
    with DockerExecutor(busybox, run_label=label) as executor:
        assert executor.image_id.startswith("sha256:") and executor.repo_digests == []  # imported: no digest
        described = executor.describe()
        assert described["image"] == busybox and described["image_id"] == executor.image_id
        assert described["network"] is False and described["user"] == "65534:65534"
        process = executor.start(spec(tmp_path, "sleep", "30"))
        engine = client()
        try:
            (found,) = engine.api.containers(filters={"label": f"aibench.run={label}"})
            assert found["ImageID"] == executor.image_id and found["Image"] == executor.image_id
            assert found["Names"][0].startswith("/aibench-scoring-program-")
            labels = found["Labels"]
            assert labels["aibench.owner-pid"] == str(os.getpid()) and labels["aibench.step"] == "scoring program"
        finally:
            engine.close()
        assert process.kill().reason == "killed"
    assert containers(f"aibench.run={label}") == []


def test_unknown_image_refused(busybox: str) -> None:
    with pytest.raises(DockerExecutorError, match="no image 'aibench-test/no-such-image:1' on this Docker engine"):
        DockerExecutor("aibench-test/no-such-image:1")


# -- time, memory, processes, network -------------------------------------------------------


def test_time_limit_kills_and_removes(executor: DockerExecutor, tmp_path: Path, label: str) -> None:
    process = spec(tmp_path, "sh", "-c", "echo started; while :; do :; done", limits=ResourceLimits(time_limit_s=2))
    started = time.monotonic()
    running = executor.start(process)
    assert running.wait(0.5) is None  # still running, not yet at its limit
    result = running.wait()
    assert result is not None
    assert (result.reason, result.exit_code, result.signal) == ("timeout", None, 9)
    assert 1.5 < time.monotonic() - started < 15
    assert "time limit of 2 s exceeded" in result.message
    assert out(process) == "started\n"
    assert containers(f"aibench.run={label}") == []


def test_kill_is_idempotent(executor: DockerExecutor, tmp_path: Path, label: str) -> None:
    running = executor.start(spec(tmp_path, "sleep", "60"))
    first = running.kill()
    assert (first.reason, first.exit_code) == ("killed", None)
    assert running.kill() is first and running.wait() is first
    assert containers(f"aibench.run={label}") == []


def test_memory_limit_is_oom(executor: DockerExecutor, tmp_path: Path) -> None:
    process = spec(tmp_path, "sh", "-c", "x=$(head -c 300m /dev/zero | tr '\\0' a); echo never",
                   limits=ResourceLimits(memory_mb=64))
    result = run(executor, process)
    assert result.reason == "oom" and result.exit_code != 0
    assert "memory limit of 64 MB" in result.message
    assert "never" not in out(process)


def test_oom_of_a_child_when_the_container_exits_0(executor: DockerExecutor, tmp_path: Path) -> None:
    """§2.10: the shell survives its OOM-killed child and exits 0; OOMKilled still says oom."""
    process = spec(tmp_path, "sh", "-c", "(x=$(head -c 300m /dev/zero | tr '\\0' a)); echo survived; exit 0",
                   limits=ResourceLimits(memory_mb=64))
    result = run(executor, process)
    assert (result.reason, result.exit_code) == ("oom", 0)
    assert out(process) == "survived\n"
    assert "still exited 0" in result.message


def test_fork_bomb_held_by_pids_limit(executor: DockerExecutor, tmp_path: Path, label: str) -> None:
    counted = spec(tmp_path / "count", "sh", "-c",
                   "n=0; while sleep 60 & do n=$((n+1)); [ $n -ge 500 ] && break; done; echo started $n",
                   limits=ResourceLimits(pids=32))
    result = run(executor, counted)
    started = int(out(counted).split()[-1]) if out(counted) else 0
    assert started < 32, out(counted)
    assert "can't fork" in err(counted) and "process-count limit of 32" in result.message
    bomb = spec(tmp_path / "bomb", "sh", "-c", "b() { b | b & }; b; sleep 60", limits=ResourceLimits(pids=64, time_limit_s=4))
    before = len(os.listdir("/proc"))
    result = run(executor, bomb)
    assert result.reason in ("timeout", "exited")
    assert len(os.listdir("/proc")) < before + 64  # the host's process table was never flooded
    assert containers(f"aibench.run={label}") == []


def test_no_network_by_default(executor: DockerExecutor, tmp_path: Path) -> None:
    process = spec(tmp_path, "sh", "-c", "nc -w 3 1.1.1.1 80 </dev/null && echo reached; ls /sys/class/net")
    result = run(executor, process)
    assert "reached" not in out(process) and out(process).split() == ["lo"]
    assert "Network is unreachable" in err(process), err(process)
    assert result.reason == "exited"


def test_network_opt_in(busybox: str, tmp_path: Path, label: str) -> None:
    with DockerExecutor(busybox, run_label=label, network=True) as executor:
        process = spec(tmp_path, "ls", "/sys/class/net")
        run(executor, process)
        assert "eth0" in out(process).split() and executor.describe()["network"] is True
    assert containers(f"aibench.run={label}") == []


# -- failures to start ------------------------------------------------------------------------


@pytest.mark.parametrize("argv, expected", [
    (("no-such-program",), "cannot start 'no-such-program': executable file not found"),
    (("/app/program/run.sh",), "cannot start '/app/program/run.sh': not executable"),
])
def test_failed_start_leaves_no_container(executor: DockerExecutor, tmp_path: Path, app: dict[str, Path],
                                          label: str, argv: tuple[str, ...], expected: str) -> None:
    process = spec(tmp_path, *argv, app=app)
    result = run(executor, process)
    assert (result.reason, result.exit_code) == ("error", None)
    assert expected in result.message and expected in err(process)
    assert containers(f"aibench.run={label}") == []


def test_missing_mount_folder_is_an_error(executor: DockerExecutor, tmp_path: Path) -> None:
    process = spec(tmp_path, "true", app={"output": tmp_path / "absent"})
    result = run(executor, process)
    assert result.reason == "error" and "does not exist" in result.message


def test_system_folders_never_opened(executor: DockerExecutor, tmp_path: Path) -> None:
    """A writable mount of a system folder, at a container path or at its own path (v1), is
    refused before anything is mounted or has its mode changed; a working directory in a system
    folder mounts nothing (issue 9: mounts come from ``spec.mounts`` only, never from cwd or argv;
    this test asserted "not mounted into containers" for the old cwd-derived v1 mounts)."""
    guarded = Path("/usr/share/doc/busybox-static")
    before = {p: p.stat().st_mode for p in (guarded, *guarded.iterdir())}
    writable = ProcessSpec("program", ("true",), "/app/output", tmp_path / "o", tmp_path / "e", {"/app/output": guarded})
    result = run(executor, writable)
    assert result.reason == "error" and "refusing" in result.message
    v1 = ProcessSpec("program", ("true",), str(guarded), tmp_path / "o", tmp_path / "e", {str(guarded): guarded})
    result = run(executor, v1)
    assert result.reason == "error" and "refusing" in result.message
    named = ProcessSpec("program", ("touch", f"{guarded}/x"), str(guarded), tmp_path / "o", tmp_path / "e")
    result = run(executor, named)
    assert result.exit_code != 0, "a folder named in argv was mounted"
    assert {p: p.stat().st_mode for p in before} == before


@pytest.mark.parametrize("driver", ["nvidia", "cdi"])
def test_gpu_request_without_gpu_runtime(busybox: str, tmp_path: Path, label: str, driver: str) -> None:
    engine = client()
    try:
        has_gpu_runtime = "nvidia" in engine.info().get("Runtimes", {})
    finally:
        engine.close()
    with DockerExecutor(busybox, run_label=label, gpu_driver=driver) as executor:  # type: ignore[arg-type]
        result = run(executor, spec(tmp_path, "true", limits=ResourceLimits(gpus=-1 if driver == "cdi" else 1)))
    if has_gpu_runtime:
        pytest.fail("this host has a GPU runtime: the no-GPU test must run on a host without one")
    assert result.reason == "error"
    assert result.message.startswith("no GPU runtime on this host"), result.message
    assert containers(f"aibench.run={label}") == []


# -- nothing left behind ----------------------------------------------------------------------


def test_sigkilled_owner_is_reaped(busybox: str, tmp_path: Path, label: str) -> None:
    code = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from codalab_worker_compat import DockerExecutor, ProcessSpec
        ex = DockerExecutor({busybox!r}, run_label={label!r}, reap=False)
        here = Path({str(tmp_path)!r})
        ex.start(ProcessSpec("orphan", ("sleep", "300"), "/app/output", here / "o", here / "e", {{"/app/output": here}}))
        print("started", flush=True)
        sys.stdin.read()
    """)
    owner = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert owner.stdout is not None and owner.stdout.readline() == "started\n"
        (name,) = containers(f"aibench.run={label}")
        assert name.startswith("aibench-orphan-")
        assert reap_orphans() == [] or name not in reap_orphans()  # a live owner's container stays
        assert containers(f"aibench.run={label}") == [name]
    finally:
        owner.send_signal(signal.SIGKILL)
        owner.wait()
        assert owner.stdin is not None and owner.stdout is not None
        owner.stdin.close()
        owner.stdout.close()
    assert containers(f"aibench.run={label}") == [name]  # SIGKILL: nothing could clean up
    with DockerExecutor(busybox) as executor:
        assert name in executor.reaped
    assert containers(f"aibench.run={label}") == []


def test_no_temp_dir_left(busybox: str, tmp_path: Path, label: str, app: dict[str, Path],
                          monkeypatch: pytest.MonkeyPatch) -> None:
    private = tmp_path / "tmp"
    private.mkdir()
    monkeypatch.setenv("TMPDIR", str(private))
    monkeypatch.setattr(tempfile, "tempdir", None)
    with DockerExecutor(busybox, run_label=label) as executor:
        for argv in (("true",), ("no-such-program",), ("sh", "-c", "exit 4")):
            run(executor, spec(tmp_path, *argv, app=app))
        executor.start(spec(tmp_path, "sleep", "30", app=app)).kill()
    assert list(private.iterdir()) == []


# -- v1 specs: host paths at identical paths --------------------------------------------------


def test_v1_spec_sees_host_paths(executor: DockerExecutor, tmp_path: Path) -> None:
    """A v1 spec lists its folders as mounts at the worker's host paths (§4.2, §4.5): the run
    folder's program/input/output/temp and the hidden folder, inputs read-only. A folder that is
    named in the command but not mounted (the bundle beside the run folder) is not there
    (issue 9; this test used to build a symlinked run folder and let argv name the hidden one)."""
    work = tmp_path / "work"
    for folder in ("submission", "input", "prediction/output", "prediction/temp", "hidden", "bundle"):
        (work / folder).mkdir(parents=True)
    (work / "submission" / "run.sh").write_text(
        'echo "$(cat input/x.txt) $(cat "$1/h.txt")" > output/answer.txt\n'
        'touch program/x 2>/dev/null && echo "program writable" || echo "program read-only"\n'
        'touch "$1/x" 2>/dev/null && echo "hidden writable" || echo "hidden read-only"\n'
        'touch temp/t && echo "temp writable"\n'
        'cat "$2/labels.txt" 2>/dev/null || echo "bundle not there"\n')
    (work / "input" / "x.txt").write_text("input")
    (work / "hidden" / "h.txt").write_text("hidden")
    (work / "bundle" / "labels.txt").write_text("the labels")
    run_dir = work / "v1-prediction" / "run"
    mounts = {str(run_dir / "program"): work / "submission", str(run_dir / "input"): work / "input",
              str(run_dir / "output"): work / "prediction" / "output", str(run_dir / "temp"): work / "prediction" / "temp",
              str(work / "hidden"): work / "hidden"}
    read_only = frozenset({str(run_dir / "program"), str(run_dir / "input"), str(work / "hidden")})
    process = ProcessSpec("program", ("sh", str(run_dir / "program" / "run.sh"), str(work / "hidden"),
                                      str(work / "bundle")), str(run_dir),
                          tmp_path / "o.txt", tmp_path / "e.txt", mounts, {}, ResourceLimits(), read_only)
    result = run(executor, process)
    assert result.exit_code == 0, err(process)
    assert (work / "prediction" / "output" / "answer.txt").read_text() == "input hidden\n"
    assert out(process).split("\n")[:4] == ["program read-only", "hidden read-only", "temp writable",
                                            "bundle not there"]


# -- the runner with the Docker executor and a Python image ----------------------------------


def test_runner_scores_like_local(tmp_path: Path, label: str) -> None:
    """The iris v2 bundle and the wine v1 bundle score the same in containers as locally."""
    from codalab_worker_compat import LocalExecutor, load_bundle, run_submission

    repo = Path(__file__).resolve().parents[2]
    cases = [(repo / "bundles" / "iris-v2", repo / "examples" / "submissions" / "iris-v2" / "good", "codabench"),
             (repo / "bundles" / "wine-v1", repo / "examples" / "submissions" / "wine-v1" / "good", "v1")]
    with DockerExecutor(python_image(), run_label=label) as docker_executor:
        for bundle_dir, submission, worker in cases:
            bundle = load_bundle(bundle_dir)
            local = run_submission(bundle, submission, LocalExecutor(), tmp_path / f"local-{worker}",
                                   worker=worker)  # type: ignore[arg-type]
            docker = run_submission(bundle, submission, docker_executor, tmp_path / f"docker-{worker}",
                                    worker=worker)  # type: ignore[arg-type]
            assert local.status == docker.status == "finished", (docker.message, docker.warnings)
            assert local.row is not None and docker.row is not None
            assert docker.row.values == local.row.values
            assert {p.isolation for s in docker.steps for p in s.processes} == {"docker"}
    assert containers(f"aibench.run={label}") == []
