"""Resource limits applied by both executors, against real processes (issue 9 item 7): a 3 s time
limit stops a 20 s process, a 1024 MB memory limit stops a process holding 1.5 GB, each result
says which limits were applied and how, and a limit an executor cannot apply refuses the process
with a message naming it. Fails, never skips, without bwrap or Docker."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from codalab_worker_compat import DockerExecutor, ProcessSpec, ResourceLimits
from codalab_worker_compat._cgroup import cgroup_probe
from codalab_worker_compat._local import LocalExecutor, bwrap_probe
from processes import processes_with
from dockerimages import containers, python_image

SLEEP_20 = "import time; time.sleep(20); print('survived')"
#: 1.5 GB, every page written (resident), 64 MiB at a time
HOLD_1536 = "held = [b'\\x01' * (64 << 20) for _ in range(24)]; print('held', len(held))"


def spec(tmp_path: Path, argv: tuple[str, ...], limits: ResourceLimits, mounts: dict[str, Path] | None = None,
         cwd: str | None = None) -> ProcessSpec:
    return ProcessSpec("step", argv, cwd or str(tmp_path), tmp_path / "logs" / "out.txt",
                       tmp_path / "logs" / "err.txt", mounts or {}, {}, limits)


@pytest.fixture(params=["none", "bwrap"])
def local(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[LocalExecutor, dict[str, Path], str]:
    """The local executor with path rewriting, or bwrap with a v2 /app/program mount."""
    if request.param == "bwrap" and not bwrap_probe()[0]:
        pytest.fail(f"these tests need bubblewrap: {bwrap_probe()[1]}")
    program = tmp_path / "program"
    program.mkdir()
    mounts = {"/app/program": program} if request.param == "bwrap" else {}
    return LocalExecutor(request.param), mounts, "/app/program" if mounts else str(program)


@pytest.fixture
def docker() -> Iterator[DockerExecutor]:
    label = f"test-{uuid.uuid4().hex}"
    with DockerExecutor(python_image(), run_label=label) as made:
        yield made
    assert containers(f"aibench.run={label}") == [], "a container was left behind"


def docker_spec(tmp_path: Path, code: str, limits: ResourceLimits) -> ProcessSpec:
    for name in ("program", "output"):
        (tmp_path / name).mkdir(exist_ok=True)
    return spec(tmp_path, ("python3", "-c", code), limits,
                {"/app/program": tmp_path / "program", "/app/output": tmp_path / "output"}, "/app/program")


# --- local --------------------------------------------------------------------------------------

def test_local_time_limit_of_3_s_stops_a_20_s_process(tmp_path: Path, local: tuple) -> None:
    executor, mounts, cwd = local
    made = spec(tmp_path, (sys.executable, "-c", SLEEP_20), ResourceLimits(time_limit_s=3), mounts, cwd)
    result = executor.start(made).wait()
    assert result is not None and result.reason == "timeout" and result.exit_code is None
    assert 2.9 < result.elapsed_s < 8 and "survived" not in made.stdout.read_text()
    assert "time limit of 3 s exceeded" in result.message
    assert result.limits_applied["time_limit_s"].startswith("3 s wall clock")


def test_local_memory_limit_of_1024_mb_stops_a_process_holding_1_5_gb(tmp_path: Path, local: tuple) -> None:
    executor, mounts, cwd = local
    made = spec(tmp_path, (sys.executable, "-c", HOLD_1536), ResourceLimits(memory_mb=1024), mounts, cwd)
    result = executor.start(made).wait()
    assert result is not None and result.reason == "oom" and "held" not in made.stdout.read_text(), result
    if cgroup_probe("memory")[0] is not None:  # resident memory, as docker: the kernel kills the process
        assert result.exit_code == 137 and "memory limit of 1024 MB and the kernel killed it" in result.message
        assert result.limits_applied == {"memory_mb": "1024 MiB of memory, no swap (a memory cgroup of its own: "
                                                      "OOM-killed past it)"}
        return
    assert result.exit_code == 1 and "MemoryError" in made.stderr.read_text() and "memory_mb=1024" in result.message
    assert result.limits_applied == {"memory_mb": "1024 MiB of address space (RLIMIT_AS, not resident memory: an "
                                                  "allocation beyond it fails)"}


def test_local_without_limits_holds_1_5_gb(tmp_path: Path) -> None:
    """The control: the same program without a limit runs to its end."""
    made = spec(tmp_path, (sys.executable, "-c", HOLD_1536), ResourceLimits())
    result = LocalExecutor("none").start(made).wait()
    assert result is not None and result.exit_code == 0 and made.stdout.read_text() == "held 24\n"
    assert result.limits_applied == {}


@pytest.mark.parametrize("limits, name", [(ResourceLimits(gpus=1), "gpus"), (ResourceLimits(shm_mb=64), "shm_mb")],
                         ids=["gpus", "shm_mb"])
def test_local_refuses_a_limit_it_cannot_apply(tmp_path: Path, limits: ResourceLimits, name: str) -> None:
    made = spec(tmp_path, (sys.executable, "-c", "print('ran')"), limits)
    executor = LocalExecutor("none")
    assert len(executor.limit_refusals(limits)) == 1
    result = executor.start(made).wait()
    assert result is not None and result.reason == "error" and not made.stdout.exists()
    assert f"the {name} limit" in result.message and "cannot be applied" in result.message
    assert "--executor docker" in result.message


FORKS = """
import os, sys, time
for _ in range(10):  # up to 1024 processes
    try:
        os.fork()
    except OSError as error:
        print("fork failed", error, file=sys.stderr, flush=True)
time.sleep(30)
"""


def test_local_pids_limit_stops_a_fork_bomb_or_is_refused(tmp_path: Path, local: tuple) -> None:
    """As root, with a pids cgroup: at most 64 processes, the refused forks said, none left; without
    one the process is refused (RLIMIT_NPROC does not bind root)."""
    executor, mounts, cwd = local
    mark = f"codalab-test-marker-{uuid.uuid4().hex}"
    made = spec(tmp_path, (sys.executable, "-c", FORKS, mark), ResourceLimits(pids=64, time_limit_s=4), mounts, cwd)
    result = executor.start(made).wait()
    assert result is not None
    if cgroup_probe("pids")[0] is None and os.geteuid() == 0:
        assert result.reason == "error" and "the pids limit (64) cannot be applied" in result.message
        return
    assert result.reason == "timeout" and "fork failed" in made.stderr.read_text()
    assert "the process-count limit of 64 was reached" in result.message
    assert processes_with(mark) == [], "a process of the fork bomb was left behind"


def test_local_pids_cgroup_kills_a_descendant_that_left_the_group(tmp_path: Path) -> None:
    """Without bwrap a new session escapes the group kill; the pids cgroup still ends it."""
    if cgroup_probe("pids")[0] is None:  # the feature needs one: without it pids is RLIMIT_NPROC or refused
        pytest.skip(f"this host has no pids cgroup: {cgroup_probe('pids')[2]}")
    mark = f"codalab-test-marker-{uuid.uuid4().hex}"
    code = ("import subprocess, sys; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)', "
            f"'{mark}'], start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)")
    result = LocalExecutor("none").start(spec(tmp_path, (sys.executable, "-c", code), ResourceLimits(pids=16))).wait()
    assert result is not None and result.exit_code == 0
    assert processes_with(mark) == []


def test_local_memory_cgroup_counts_resident_memory_not_address_space(tmp_path: Path) -> None:
    """Where a memory cgroup exists, reserving 4 GB of address space is fine under a 512 MB limit
    (RLIMIT_AS would refuse it): only memory in use counts."""
    if cgroup_probe("memory")[0] is None:  # the feature needs one: without it memory_mb is RLIMIT_AS
        pytest.skip(f"this host has no memory cgroup: {cgroup_probe('memory')[2]}")
    code = "import mmap; m = mmap.mmap(-1, 4 << 30); m[:16] = b'x' * 16; print('reserved')"
    made = spec(tmp_path, (sys.executable, "-c", code), ResourceLimits(memory_mb=512))
    result = LocalExecutor("none").start(made).wait()
    assert result is not None and result.exit_code == 0 and made.stdout.read_text() == "reserved\n"


def test_local_cpus_limit_is_described(tmp_path: Path) -> None:
    made = spec(tmp_path, (sys.executable, "-c", "pass"), ResourceLimits(cpus=1))
    result = LocalExecutor("none").start(made).wait()
    assert result is not None and result.exit_code == 0
    assert result.limits_applied["cpus"].startswith("1: pinned to 1 core ")


# --- docker -------------------------------------------------------------------------------------

def test_docker_time_limit_of_3_s_stops_a_20_s_process(tmp_path: Path, docker: DockerExecutor) -> None:
    made = docker_spec(tmp_path, SLEEP_20, ResourceLimits(time_limit_s=3))
    result = docker.start(made).wait()
    assert result is not None and result.reason == "timeout" and result.exit_code is None
    assert result.elapsed_s < 8 and "survived" not in made.stdout.read_text()
    assert result.limits_applied["time_limit_s"].startswith("3 s wall clock: the container is killed")


def test_docker_memory_limit_of_1024_mb_stops_a_process_holding_1_5_gb(tmp_path: Path,
                                                                        docker: DockerExecutor) -> None:
    made = docker_spec(tmp_path, HOLD_1536, ResourceLimits(memory_mb=1024, time_limit_s=60))
    result = docker.start(made).wait()
    assert result is not None and result.reason == "oom" and result.exit_code == 137, result
    assert "held" not in made.stdout.read_text() and "memory limit of 1024 MB" in result.message
    applied = result.limits_applied
    assert applied["memory_mb"].startswith("1024 MiB of memory, no swap")
    assert set(applied) == {"time_limit_s", "memory_mb", "cpus", "pids", "shm_mb"}  # the executor's defaults too


def test_docker_applies_no_limit_it_was_not_given_beyond_its_defaults(tmp_path: Path) -> None:
    label = f"test-{uuid.uuid4().hex}"
    with DockerExecutor(python_image(), run_label=label, memory_mb=None, cpus=None, pids=None) as executor:
        assert executor.limit_refusals(ResourceLimits(gpus=1, pids=5)) == []
        result = executor.start(docker_spec(tmp_path, "pass", ResourceLimits())).wait()
    assert result is not None and result.exit_code == 0
    assert set(result.limits_applied) == {"shm_mb"}
    assert containers(f"aibench.run={label}") == []
