"""Each process's peak memory, measured by the executor on the host (``ProcessResult.peak_memory_mb``):
the local executor's memory cgroup or ``wait4``, the Docker executor's container cgroup or the
engine's stats API. Real processes and real containers; no mocks, except the stats API's answers
for the fallback that reads them (the container cgroup is readable on this host)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from codalab_worker_compat import DockerExecutor, ProcessResult, ProcessSpec, ResourceLimits
from codalab_worker_compat._cgroup import cgroup_probe
from codalab_worker_compat._docker import _stats_peak_mb
from codalab_worker_compat._local import LocalExecutor, bwrap_probe
from dockerimages import containers, python_image
from processes import processes_with

PY = sys.executable
#: a program holding 100 MiB of resident memory for half a second, then exiting
ALLOCATE_100 = "import time; b = b'x' * (100 << 20); time.sleep(0.5)"


def spec(tmp_path: Path, *argv: str, mounts: dict[str, Path] | None = None, cwd: str | None = None,
         limits: ResourceLimits = ResourceLimits()) -> ProcessSpec:
    logs = tmp_path / "logs"
    return ProcessSpec("program", argv, cwd or str(tmp_path), logs / "stdout.txt", logs / "stderr.txt",
                       mounts or {}, {}, limits)


def finish(process: Any, timeout: float = 120) -> ProcessResult:
    result = process.wait(timeout)
    assert result is not None, "still running"
    assert (result.reason, result.exit_code) == ("exited", 0), (result, Path(process.spec.stderr).read_text())
    return result


def memory_cgroup() -> None:
    if cgroup_probe("memory")[0] is None:
        pytest.skip(f"this host lets no memory cgroup be made: {cgroup_probe('memory')[2]}")


# -- local executor -----------------------------------------------------------------------------


def test_local_peak_from_a_memory_cgroup_without_a_limit(tmp_path: Path) -> None:
    """Every process gets a memory cgroup of its own to measure (no limit in it): its peak counts
    the 100 MiB and not the caller's pages shared at fork (a small program stays small)."""
    memory_cgroup()
    result = finish(LocalExecutor().start(spec(tmp_path, PY, "-c", ALLOCATE_100)))
    assert result.peak_memory_mb is not None and 90 <= result.peak_memory_mb < 400, result
    assert "memory cgroup (memory.max_usage_in_bytes)" in result.peak_memory_source \
        or "memory cgroup (memory.peak)" in result.peak_memory_source
    assert "memory_mb" not in result.limits_applied
    small = finish(LocalExecutor().start(spec(tmp_path / "small", "true")))
    assert small.peak_memory_mb is not None and small.peak_memory_mb < 50, small


def test_local_peak_from_the_memory_limit_cgroup(tmp_path: Path) -> None:
    memory_cgroup()
    result = finish(LocalExecutor().start(spec(tmp_path, PY, "-c", ALLOCATE_100,
                                               limits=ResourceLimits(memory_mb=512))))
    assert "memory cgroup" in result.limits_applied["memory_mb"]
    assert result.peak_memory_mb is not None and 90 <= result.peak_memory_mb < 400, result
    assert "memory cgroup" in result.peak_memory_source


def test_local_peak_from_wait4_without_a_cgroup(tmp_path: Path) -> None:
    """Without a memory cgroup: wait4's ru_maxrss, which also covers a descendant it waited for
    (the shell waits for Python), and says what it is."""
    process = LocalExecutor(measure_memory=False).start(spec(tmp_path, "sh", "-c", f'"{PY}" -c "{ALLOCATE_100}"'))
    result = finish(process)
    assert result.peak_memory_mb is not None and result.peak_memory_mb >= 90, result
    assert result.peak_memory_source.startswith("wait4 ru_maxrss"), result.peak_memory_source


def test_local_wait4_peak_is_the_programs_own_when_the_caller_is_small(tmp_path: Path) -> None:
    """wait4's figure is at least the caller's resident size at fork: from a small caller (a fresh
    Python), ``true`` stays small and the 100 MiB program shows its 100 MiB."""
    caller = textwrap.dedent(f"""
        import json, sys
        from pathlib import Path
        from codalab_worker_compat._executor import ProcessSpec
        from codalab_worker_compat._local import LocalExecutor
        peaks = []
        for argv in (["true"], [sys.executable, "-c", {ALLOCATE_100!r}]):
            logs = Path({str(tmp_path)!r})
            spec = ProcessSpec("program", tuple(argv), str(logs), logs / "out.txt", logs / "err.txt")
            result = LocalExecutor(measure_memory=False).start(spec).wait()
            peaks.append([result.exit_code, result.peak_memory_mb, result.peak_memory_source])
        print(json.dumps(peaks))
        """)
    done = subprocess.run([PY, "-c", caller], capture_output=True, text=True, timeout=120, check=True,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    (small, large) = json.loads(done.stdout)
    assert small[0] == large[0] == 0 and small[2].startswith("wait4") and large[2].startswith("wait4")
    assert small[1] < 60 and large[1] >= 90 and large[1] - small[1] >= 60, (small, large)


def test_local_peak_under_bwrap(tmp_path: Path) -> None:
    ok, why = bwrap_probe()
    if not ok:
        pytest.fail(f"this test needs bubblewrap: apt-get install -y bubblewrap ({why})")
    (tmp_path / "output").mkdir()
    process = LocalExecutor("bwrap").start(spec(tmp_path, PY, "-c", ALLOCATE_100, cwd="/app/output",
                                                mounts={"/app/output": tmp_path / "output"}))
    result = finish(process)
    assert result.isolation == "bwrap"
    assert result.peak_memory_mb is not None and result.peak_memory_mb >= 90, result


def test_local_measuring_cgroup_ends_a_descendant_that_left_the_group(tmp_path: Path) -> None:
    """The memory cgroup made to measure also holds a descendant in its own session: it is
    killed with the cgroup, and its memory counted while it ran."""
    memory_cgroup()
    mark = f"codalab-test-marker-{uuid.uuid4().hex}"
    flag = tmp_path / "allocated"
    code = (f"import os, subprocess, sys, time; subprocess.Popen([sys.executable, '-c', \"{ALLOCATE_100}; "
            f"open({str(flag)!r}, 'w'); time.sleep(30)\", '{mark}'], start_new_session=True)\n"
            f"while not os.path.exists({str(flag)!r}): time.sleep(0.05)")
    try:
        result = finish(LocalExecutor("none").start(spec(tmp_path, PY, "-c", code)))
        assert result.peak_memory_mb is not None and result.peak_memory_mb >= 90, result
        assert not processes_with(mark), "the descendant outlived its process's cgroup"
    finally:
        for pid in processes_with(mark):
            os.kill(pid, signal.SIGKILL)


def test_local_process_that_cannot_start_has_no_peak(tmp_path: Path) -> None:
    result = LocalExecutor().start(spec(tmp_path, "/no/such/program")).wait()
    assert result is not None and result.reason == "error" and result.peak_memory_mb is None


# -- Docker executor ---------------------------------------------------------------------------


@pytest.fixture
def docker_executor() -> Iterator[DockerExecutor]:
    label = f"test-{uuid.uuid4().hex}"
    with DockerExecutor(python_image(), run_label=label) as made:
        yield made
    assert containers(f"aibench.run={label}") == [], "a container was left behind"


def test_docker_peak_from_the_container_cgroup(tmp_path: Path, docker_executor: DockerExecutor) -> None:
    (tmp_path / "output").mkdir()
    process = docker_executor.start(spec(tmp_path, "python3", "-c", ALLOCATE_100, cwd="/app/output",
                                         mounts={"/app/output": tmp_path / "output"}))
    result = finish(process)
    assert result.peak_memory_mb is not None and 90 <= result.peak_memory_mb < 1000, result
    assert "the container's memory cgroup" in result.peak_memory_source, result.peak_memory_source


def test_docker_short_container_peak_or_reason(tmp_path: Path, docker_executor: DockerExecutor) -> None:
    """A container that ends at once may end before its cgroup is first read: then no figure, and
    a reason; never a made-up one."""
    (tmp_path / "output").mkdir()
    result = finish(docker_executor.start(spec(tmp_path, "true", cwd="/app/output",
                                               mounts={"/app/output": tmp_path / "output"})))
    if result.peak_memory_mb is None:
        assert "ended before" in result.peak_memory_source or "no memory" in result.peak_memory_source
    else:
        assert 0 < result.peak_memory_mb < 100 and result.peak_memory_source


@pytest.mark.parametrize(("stats", "expected"), [
    ({"memory_stats": {"max_usage": 150 << 20, "usage": 10 << 20}}, 150.0),  # cgroup v1: the peak
    ({"memory_stats": {"usage": 64 << 20}}, 64.0),  # cgroup v2: only the usage now
    ({"memory_stats": {}}, None),  # the container has ended
    ({}, None),
])
def test_stats_api_answers(stats: dict[str, Any], expected: float | None) -> None:
    assert _stats_peak_mb(stats) == expected


def test_docker_peak_from_the_stats_api_when_no_cgroup_is_readable(tmp_path: Path, docker_executor: DockerExecutor,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """An engine whose cgroups this host cannot read (another machine): the engine's stats API."""
    import codalab_worker_compat._docker as docker_module

    monkeypatch.setattr(docker_module, "_memory_file", lambda api, container: None)
    (tmp_path / "output").mkdir()
    program = "import time; b = b'x' * (100 << 20); time.sleep(2)"
    result = finish(docker_executor.start(spec(tmp_path, "python3", "-c", program, cwd="/app/output",
                                               mounts={"/app/output": tmp_path / "output"})))
    assert result.peak_memory_mb is not None and 90 <= result.peak_memory_mb < 1000, result
    assert "stats API" in result.peak_memory_source


class NoEngine:
    """An engine API that knows no such container (for the cgroup lookups below)."""

    def inspect_container(self, container: str) -> dict[str, Any]:
        return {"State": {"Pid": os.getpid()}}  # this process: its cgroup does not name the container


@pytest.mark.parametrize(("folder", "file"), [
    ("memory/docker/{id}", "memory.max_usage_in_bytes"),  # v1, cgroupfs driver
    ("memory/system.slice/docker-{id}.scope", "memory.max_usage_in_bytes"),  # v1, systemd driver
    ("docker/{id}", "memory.peak"),  # v2, cgroupfs
    ("system.slice/docker-{id}.scope", "memory.peak"),  # v2, systemd
    ("system.slice/docker-{id}.scope", "memory.current"),  # v2 before Linux 5.19: no memory.peak
])
def test_container_cgroup_found_for_each_driver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                folder: str, file: str) -> None:
    import codalab_worker_compat._docker as docker_module

    container = uuid.uuid4().hex * 2
    monkeypatch.setattr(docker_module, "CGROUP_ROOT", tmp_path)
    assert docker_module._memory_file(NoEngine(), container) is None
    (tmp_path / folder.format(id=container)).mkdir(parents=True)
    (tmp_path / folder.format(id=container) / file).write_text("1048576\n")
    assert docker_module._memory_file(NoEngine(), container) == tmp_path / folder.format(id=container) / file


def test_sampler_keeps_the_largest_current_and_stops_when_the_cgroup_goes(tmp_path: Path) -> None:
    """v2 without memory.peak: the largest memory.current read; the cgroup's removal ends sampling."""
    import time

    from codalab_worker_compat._docker import _MemorySampler

    current = tmp_path / "memory.current"
    current.write_text(f"{300 << 20}\n")
    sampler = _MemorySampler(NoEngine(), "c0ffee", current)
    time.sleep(0.2)
    current.write_text(f"{100 << 20}\n")
    time.sleep(0.2)
    current.unlink()
    sampler.thread.join(5)
    assert not sampler.thread.is_alive()
    peak, how = sampler.stop()
    assert peak == 300 and str(current) in how
