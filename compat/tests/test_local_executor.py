"""The local executor against real processes (codalab-contract.md §1 item 4, §4.5-§4.6, §5.3-§5.6).

No mocks: every test starts real processes, and the ones that hang check that nothing is left
behind by scanning /proc for a marker argument. The bwrap tests need bubblewrap installed
(CI installs it) and fail, not skip, without it.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from codalab_worker_compat._executor import ProcessSpec, ResourceLimits
from codalab_worker_compat._cgroup import cgroup_probe
from codalab_worker_compat._local import LocalExecutor, bwrap_probe
from processes import processes_with

PY = sys.executable


def make_spec(tmp_path: Path, *argv: str, cwd: str | None = None,
              mounts: dict[str, Path] | None = None, env: dict[str, str] | None = None,
              limits: ResourceLimits = ResourceLimits()) -> ProcessSpec:
    logs = tmp_path / "logs"
    return ProcessSpec("test", argv, cwd or str(tmp_path), logs / "stdout.txt", logs / "stderr.txt",
                       mounts or {}, env or {}, limits)


def out(spec: ProcessSpec) -> str:
    return spec.stdout.read_text()


def err(spec: ProcessSpec) -> str:
    return spec.stderr.read_text()


def marker() -> str:
    return f"codalab-test-marker-{uuid.uuid4().hex}"



def gone(mark: str, within: float = 2.0) -> bool:
    end = time.monotonic() + within
    while processes_with(mark) and time.monotonic() < end:
        time.sleep(0.02)
    return not processes_with(mark)


def appear(mark: str, within: float = 5.0) -> None:
    end = time.monotonic() + within
    while not processes_with(mark):
        assert time.monotonic() < end, f"no process with {mark} started"
        time.sleep(0.02)


def host_app() -> list[str] | None:
    """The host's /app as seen from here (None: it does not exist)."""
    return sorted(os.listdir("/app")) if os.path.isdir("/app") else None


@pytest.fixture
def bwrap() -> LocalExecutor:
    ok, why = bwrap_probe()
    if not ok:
        pytest.fail(f"these tests need bubblewrap: apt-get install -y bubblewrap ({why})")
    return LocalExecutor("bwrap")


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """A v2 run dir: program/, input/ref/x.txt, input/res/, output/, data/d.txt (§5.3)."""
    run = tmp_path / "run"
    for folder in ("program", "input/ref", "input/res", "output", "data"):
        (run / folder).mkdir(parents=True)
    (run / "input/ref/x.txt").write_text("reference\n")
    (run / "data/d.txt").write_text("shared data\n")
    (run / "program/hardcoded.py").write_text(textwrap.dedent("""\
        import os
        print(os.getcwd())
        text = open("/app/input/ref/x.txt").read()
        open("/app/output/y.txt", "w").write(text.upper())
        """))
    (run / "program/args.py").write_text(textwrap.dedent("""\
        import os, sys
        print(os.getcwd())
        text = open(os.path.join(sys.argv[1], "ref", "x.txt")).read()
        open(sys.argv[2].split("=", 1)[1] + "/y.txt", "w").write(text.upper())
        """))
    return run


def v2_mounts(run: Path) -> dict[str, Path]:
    return {"/app/program": run / "program", "/app/input": run / "input",
            "/app/output": run / "output", "/app/data": run / "data"}


# --- exit codes and logs -------------------------------------------------------------------------

def test_normal_run_captures_stdout_stderr_and_exit_code(tmp_path: Path) -> None:
    spec = make_spec(tmp_path, PY, "-c", "import sys; print('to out'); print('to err', file=sys.stderr)")
    result = LocalExecutor().start(spec).wait()
    assert result is not None
    assert (result.reason, result.exit_code, result.signal, result.isolation) == ("exited", 0, None, "none")
    assert (out(spec), err(spec), result.message) == ("to out\n", "to err\n", "")


def test_nonzero_exit_is_reported_not_raised(tmp_path: Path) -> None:
    result = LocalExecutor().start(make_spec(tmp_path, PY, "-c", "raise SystemExit(3)")).wait()
    assert result is not None and (result.reason, result.exit_code) == ("exited", 3)


def test_death_by_signal_reads_like_docker(tmp_path: Path) -> None:
    """A process killed by its own signal: exit code 128+N (docker's 139 for SIGSEGV), signal N."""
    spec = make_spec(tmp_path, PY, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)")
    result = LocalExecutor().start(spec).wait()
    assert result is not None and (result.reason, result.exit_code, result.signal) == ("exited", 139, 11)


def test_v1_style_host_paths_and_cwd(tmp_path: Path) -> None:
    """§4.5: no mounts, cwd is the run dir, relative paths resolve against it."""
    (tmp_path / "program").mkdir()
    (tmp_path / "program/score.py").write_text("import os; print(os.getcwd())")
    spec = make_spec(tmp_path, PY, "program/score.py", cwd=str(tmp_path))
    result = LocalExecutor().start(spec).wait()
    assert result is not None and result.exit_code == 0 and out(spec) == f"{tmp_path}\n"


def test_environment_is_minimal_plus_spec_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODALAB_TEST_SECRET", "leak")
    code = "import json, os; print(json.dumps(dict(os.environ)))"
    spec = make_spec(tmp_path, PY, "-c", code, env={"EXTRA": "1"})
    assert LocalExecutor().start(spec).wait() is not None
    env = json.loads(out(spec))
    assert set(env) == {"PATH", "HOME", "LANG", "PYTHONUNBUFFERED", "EXTRA"}
    assert env["PATH"] == os.environ["PATH"]
    assert (env["LANG"], env["PYTHONUNBUFFERED"], env["EXTRA"]) == ("C.UTF-8", "1", "1")
    assert not os.path.exists(env["HOME"]), "the fresh HOME is removed when the process ends"
    assert Path(env["HOME"]).parent == spec.stdout.parent, "HOME lies beside the logs, in the run folder"


# --- failure to start ----------------------------------------------------------------------------

def test_missing_executable_is_reason_error(tmp_path: Path) -> None:
    spec = make_spec(tmp_path, "no-such-program-xyz", "arg")
    process = LocalExecutor().start(spec)
    result = process.wait()
    assert result is not None and (result.reason, result.exit_code) == ("error", None)
    assert "cannot start 'no-such-program-xyz': executable file not found in PATH" in result.message
    assert "executable file not found" in err(spec)
    assert process.kill() == result


def test_missing_working_directory_is_reason_error(tmp_path: Path) -> None:
    result = LocalExecutor().start(make_spec(tmp_path, PY, cwd=str(tmp_path / "nope"))).wait()
    assert result is not None and result.reason == "error" and "working directory" in result.message


def test_missing_mount_source_is_reason_error(tmp_path: Path, bwrap: LocalExecutor) -> None:
    spec = make_spec(tmp_path, PY, cwd="/app/program", mounts={"/app/program": tmp_path / "nope"})
    result = bwrap.start(spec).wait()
    assert result is not None and result.reason == "error" and "does not exist" in result.message


def test_missing_program_inside_mount_under_bwrap(tmp_path: Path, bwrap: LocalExecutor, run_dir: Path) -> None:
    spec = make_spec(tmp_path, "/app/program/absent.sh", cwd="/app/program", mounts=v2_mounts(run_dir))
    result = bwrap.start(spec).wait()
    assert result is not None and result.reason == "error" and "no such file" in result.message


# --- time limit, kill, and nothing left behind ----------------------------------------------------

def test_hang_is_killed_at_its_time_limit(tmp_path: Path) -> None:
    mark = marker()
    spec = make_spec(tmp_path, PY, "-c", "import time; time.sleep(60)", mark,
                     limits=ResourceLimits(time_limit_s=1))
    result = LocalExecutor().start(spec).wait()
    assert result is not None and (result.reason, result.exit_code) == ("timeout", None)
    assert 1.0 <= result.elapsed_s < 2.5 and "time limit of 1 s exceeded" in result.message
    assert gone(mark)


def test_grandchildren_are_killed_even_if_they_ignore_sigterm(tmp_path: Path) -> None:
    mark = marker()
    code = textwrap.dedent(f"""\
        import subprocess, sys, time
        child = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"
        subprocess.Popen([sys.executable, "-c", child, "grandchild-{mark}"])
        time.sleep(60)
        """)
    process = LocalExecutor().start(make_spec(tmp_path, PY, "-c", code, mark,
                                              limits=ResourceLimits(time_limit_s=2)))
    appear(f"grandchild-{mark}")
    result = process.wait()
    assert result is not None and result.reason == "timeout"
    assert gone(mark)


def test_wait_with_timeout_returns_none_then_kill_is_idempotent(tmp_path: Path) -> None:
    mark = marker()
    process = LocalExecutor().start(make_spec(tmp_path, PY, "-c", "import time; time.sleep(60)", mark))
    assert process.wait(0.2) is None
    first = process.kill()
    assert (first.reason, first.exit_code, first.signal) == ("killed", None, 15)
    assert process.kill() == first and process.wait() == first and process.wait(0) == first
    assert gone(mark)


def test_kill_after_exit_keeps_the_exit_result(tmp_path: Path) -> None:
    process = LocalExecutor().start(make_spec(tmp_path, PY, "-c", "pass"))
    time.sleep(0.5)
    assert process.kill().reason == "exited"


def test_bwrap_timeout_kills_the_whole_namespace_even_a_new_session(tmp_path: Path, bwrap: LocalExecutor,
                                                                   run_dir: Path) -> None:
    """A grandchild that calls setsid() escapes a process-group kill; under bwrap it still dies."""
    mark = marker()
    code = textwrap.dedent(f"""\
        import subprocess, sys, time
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "escaper-{mark}"],
                         start_new_session=True)
        time.sleep(60)
        """)
    spec = make_spec(tmp_path, PY, "-c", code, mark, cwd="/app/program", mounts=v2_mounts(run_dir),
                     limits=ResourceLimits(time_limit_s=2))
    process = bwrap.start(spec)
    appear(f"escaper-{mark}")
    result = process.wait()
    assert result is not None and (result.reason, result.isolation) == ("timeout", "bwrap")
    assert gone(mark)


# --- v2 paths: bwrap mounts and path rewriting (§1 item 4, §5.3) ---------------------------------

def test_v2_mounts_under_bwrap_hardcoded_paths_work_and_host_app_untouched(
        tmp_path: Path, bwrap: LocalExecutor, run_dir: Path) -> None:
    before = host_app()
    spec = make_spec(tmp_path, "python3", "hardcoded.py", cwd="/app/program", mounts=v2_mounts(run_dir))
    result = bwrap.start(spec).wait()
    assert result is not None, err(spec)
    assert (result.reason, result.exit_code, result.isolation) == ("exited", 0, "bwrap"), err(spec)
    assert out(spec) == "/app/program\n"
    assert (run_dir / "output/y.txt").read_text() == "REFERENCE\n"
    assert host_app() == before, "bwrap must not create /app (or anything in it) on the host"


def test_app_data_is_read_only_under_bwrap(tmp_path: Path, bwrap: LocalExecutor, run_dir: Path) -> None:
    code = textwrap.dedent("""\
        print(open("/app/data/d.txt").read().strip())
        try:
            open("/app/data/new.txt", "w")
        except OSError as error:
            print("read-only", error.errno)
        """)
    spec = make_spec(tmp_path, PY, "-c", code, cwd="/app/program", mounts=v2_mounts(run_dir))
    result = bwrap.start(spec).wait()
    assert result is not None and result.exit_code == 0, err(spec)
    assert out(spec) == "shared data\nread-only 30\n"  # EROFS
    assert not (run_dir / "data/new.txt").exists()


def test_v2_paths_without_bwrap_are_rewritten_in_argv_with_a_warning(tmp_path: Path, run_dir: Path) -> None:
    before = host_app()
    spec = make_spec(tmp_path, PY, "/app/program/args.py", "/app/input", "--out=/app/output",
                     cwd="/app/program", mounts=v2_mounts(run_dir))
    result = LocalExecutor("none").start(spec).wait()
    assert result is not None and (result.exit_code, result.isolation) == (0, "path-rewrite"), err(spec)
    assert out(spec) == f"{run_dir / 'program'}\n"
    assert (run_dir / "output/y.txt").read_text() == "REFERENCE\n"
    assert "hard-coded in the program's own files" in result.message and "NOT rewritten" in result.message
    assert host_app() == before


def test_path_rewrite_does_not_reach_hardcoded_paths(tmp_path: Path, run_dir: Path) -> None:
    if host_app() is not None and os.path.exists("/app/input/ref/x.txt"):
        pytest.fail("this host has a real /app/input/ref/x.txt; the test cannot show the failure")
    spec = make_spec(tmp_path, PY, "hardcoded.py", cwd="/app/program", mounts=v2_mounts(run_dir))
    result = LocalExecutor("none").start(spec).wait()
    assert result is not None and result.exit_code == 1 and "FileNotFoundError" in err(spec)
    assert "NOT rewritten" in result.message


def test_rewrite_respects_path_components(tmp_path: Path, run_dir: Path) -> None:
    """/app/input is rewritten, /app/input_data (not mounted) and /x/app/input are not."""
    spec = make_spec(tmp_path, PY, "-c", "import sys; print(sys.argv[1:])", "/app/input/ref",
                     "/app/input_data", "/x/app/input", "a:/app/input", cwd="/app/program",
                     mounts=v2_mounts(run_dir))
    assert LocalExecutor("none").start(spec).wait() is not None
    host = run_dir / "input"
    assert out(spec) == f"{[f'{host}/ref', '/app/input_data', '/x/app/input', f'a:{host}']}\n"


def test_auto_falls_back_to_path_rewrite_without_bwrap(tmp_path: Path, run_dir: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """No bwrap on PATH: ``auto`` rewrites paths, and the warning says why."""
    monkeypatch.setenv("PATH", str(Path(PY).parent))
    bwrap_probe.cache_clear()
    try:
        spec = make_spec(tmp_path, PY, "args.py", "/app/input", "--out=/app/output",
                         cwd="/app/program", mounts=v2_mounts(run_dir))
        result = LocalExecutor("auto").start(spec).wait()
    finally:
        bwrap_probe.cache_clear()
    assert result is not None and (result.exit_code, result.isolation) == (0, "path-rewrite"), err(spec)
    assert "bwrap is not on PATH" in result.message and "NOT rewritten" in result.message


def test_auto_uses_bwrap_when_it_works(tmp_path: Path, bwrap: LocalExecutor, run_dir: Path) -> None:
    spec = make_spec(tmp_path, "python3", "hardcoded.py", cwd="/app/program", mounts=v2_mounts(run_dir))
    result = LocalExecutor("auto").start(spec).wait()
    assert result is not None and (result.exit_code, result.isolation) == (0, "bwrap")


# --- memory, pids, cpus ---------------------------------------------------------------------------

def test_memory_limit_fails_a_2gb_allocation_with_reason_oom(tmp_path: Path) -> None:
    """memory_mb is a memory cgroup where one can be made (the kernel OOM-kills the process), else
    RLIMIT_AS (the allocation fails with MemoryError, nothing is OOM-killed)."""
    spec = make_spec(tmp_path, PY, "-c", "b = bytearray(2 * 1024**3)", limits=ResourceLimits(memory_mb=256))
    result = LocalExecutor().start(spec).wait()
    if cgroup_probe("memory")[0] is not None:
        assert result is not None and (result.reason, result.exit_code, result.signal) == ("oom", 137, 9)
        assert "memory limit of 256 MB and the kernel killed it (its memory cgroup)" in result.message
        assert "memory cgroup" in result.limits_applied["memory_mb"]
        return
    assert result is not None and (result.reason, result.exit_code) == ("oom", 1)
    assert "MemoryError" in err(spec) and "memory_mb=256" in result.message and "RLIMIT_AS" in result.message


def test_memory_limit_lets_small_programs_run(tmp_path: Path) -> None:
    spec = make_spec(tmp_path, PY, "-c", "b = bytearray(64 * 1024**2)", limits=ResourceLimits(memory_mb=256))
    result = LocalExecutor().start(spec).wait()
    assert result is not None and (result.reason, result.exit_code) == ("exited", 0)


def test_memory_limit_under_bwrap(tmp_path: Path, bwrap: LocalExecutor, run_dir: Path) -> None:
    spec = make_spec(tmp_path, PY, "-c", "b = bytearray(2 * 1024**3)", cwd="/app/program",
                     mounts=v2_mounts(run_dir), limits=ResourceLimits(memory_mb=256))
    result = bwrap.start(spec).wait()
    assert result is not None and (result.reason, result.isolation) == ("oom", "bwrap")


def test_pids_limit_is_a_cgroup_or_rlimit_nproc_or_refused_as_root(tmp_path: Path) -> None:
    """A pids cgroup where one can be made; else RLIMIT_NPROC, which never applies to root: as
    root the process is then refused, naming the limit, why and which executor applies it."""
    code = textwrap.dedent("""\
        import subprocess
        try:
            print([subprocess.run(["true"]).returncode for _ in range(5)])
        except OSError as error:
            print("blocked", type(error).__name__)
        """)
    spec = make_spec(tmp_path, PY, "-c", code, limits=ResourceLimits(pids=1))
    result = LocalExecutor().start(spec).wait()
    assert result is not None
    if cgroup_probe("pids")[0] is not None:
        assert result.exit_code == 0 and out(spec).startswith("blocked")
        assert "a pids cgroup of its own" in result.limits_applied["pids"]
        assert "the process-count limit of 1 was reached" in result.message
    elif os.geteuid() == 0:
        assert result.reason == "error" and result.limits_applied == {}
        assert "the pids limit (1) cannot be applied" in result.message
        assert "never applied to root" in result.message and "--executor docker" in result.message
        assert not spec.stdout.exists() and "pids limit (1)" in err(spec)
    else:
        assert result.exit_code == 0 and out(spec).startswith("blocked")
        assert "RLIMIT_NPROC" in result.limits_applied["pids"]


@pytest.mark.parametrize("cpus, cores", [(1, 1), (0.5, 1), (1.5, 2)], ids=["1", "0.5", "1.5"])
def test_cpus_pins_to_ceil_cpus_cores(tmp_path: Path, cpus: float, cores: int) -> None:
    expected = min(cores, len(os.sched_getaffinity(0)))
    spec = make_spec(tmp_path, PY, "-c", "import os; print(len(os.sched_getaffinity(0)))",
                     limits=ResourceLimits(cpus=cpus))
    assert LocalExecutor().start(spec).wait() is not None
    assert out(spec) == f"{expected}\n"
