"""Plugin code runs in a forked child: failures of every sort are reported, none spreads; its
output goes to a capped log; it dies with its parent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from aibench_plugins.core.isolate import call_isolated, plugin_log


def test_value_comes_back() -> None:
    outcome = call_isolated(lambda: {"score": 0.5}, timeout_s=10)
    assert outcome.ok and outcome.value == {"score": 0.5}


def test_exception_is_reported_with_its_traceback() -> None:
    def boom() -> None:
        raise RuntimeError("boom")

    outcome = call_isolated(boom, timeout_s=10)
    assert not outcome.ok and outcome.error == "RuntimeError: boom"
    assert outcome.traceback is not None and "in boom" in outcome.traceback


def test_hang_is_killed_at_the_time_limit() -> None:
    started = time.monotonic()
    outcome = call_isolated(lambda: time.sleep(60), timeout_s=0.5)
    assert not outcome.ok and outcome.error == "timed out after 0.5 s"
    assert time.monotonic() - started < 5


def test_interpreter_crash_is_reported() -> None:
    outcome = call_isolated(lambda: os._exit(3), timeout_s=10)
    assert not outcome.ok and outcome.error == "crashed (exit code 3)"


def test_unpicklable_result_is_an_error() -> None:
    outcome = call_isolated(lambda: (lambda: 1), timeout_s=10)
    assert not outcome.ok and "cannot be sent back" in outcome.error


def test_child_changes_do_not_reach_the_parent() -> None:
    state = {"n": 0}

    def mutate() -> int:
        state["n"] += 1
        return state["n"]

    assert call_isolated(mutate, timeout_s=10).value == 1
    assert state["n"] == 0


# -- output goes to a capped log, never to the parent's streams (issue 9 item 11) ----------


def test_a_print_flood_goes_to_the_capped_plugin_log(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    def loud() -> int:
        line = "y" * 1023
        for _ in range(50 * 1024):
            print(line)
        print("the end", file=sys.stderr)
        return 7

    with plugin_log(tmp_path / "plugins.log") as log:
        outcome = call_isolated(loud, timeout_s=60, label="metric loud")
    assert outcome.ok and outcome.value == 7
    assert outcome.output_bytes > 50_000_000 and outcome.output_tail.endswith("the end\n")
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err == ""
    assert log.written > 50_000_000
    data = (tmp_path / "plugins.log").read_bytes()
    assert len(data) < (2 << 20) + 4096
    assert data.startswith(b"--- output of metric loud ---\n") and data.endswith(b"the end\n")
    assert b"bytes cut here" in data


def test_a_flood_does_not_hold_up_the_time_limit() -> None:
    def flood() -> None:
        while True:
            os.write(1, b"z" * 65536)

    started = time.monotonic()
    outcome = call_isolated(flood, timeout_s=1)
    assert not outcome.ok and outcome.error == "timed out after 1 s"
    assert time.monotonic() - started < 5


# -- plugin children die with their parent (issue 9 item 10) -------------------------------

SPINNERS = {
    "call_isolated": "from aibench_plugins.core.isolate import call_isolated\n"
                     "call_isolated(spin, timeout_s=3600)\n",
    "wrapped-runtime-metrics": "from aibench_plugins.runtime.background import Metrics\n"
                               "Metrics(lambda: spin()).result(3600)\n",
    "wrapped-runtime-original": "from aibench_plugins.runtime.child import run_original\n"
                                "run_original([sys.executable, SPINNER])\n",
}


@pytest.mark.parametrize("kind", list(SPINNERS))
def test_a_spinning_plugin_child_dies_when_its_parent_is_killed(tmp_path: Path, kind: str) -> None:
    pids = tmp_path / "pids"
    spinner = tmp_path / "spinner.py"
    spinner.write_text(f"import os\nopen({str(pids)!r}, 'a').write(f'{{os.getpid()}}\\n')\nwhile True:\n    pass\n")
    script = tmp_path / "parent.py"
    script.write_text(f"import os, runpy, sys\nSPINNER = {str(spinner)!r}\n"
                      f"def spin():\n    runpy.run_path(SPINNER)\n" + SPINNERS[kind])
    parent = subprocess.Popen([sys.executable, str(script)])
    deadline = time.monotonic() + 60
    while not (pids.exists() and pids.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pids.exists(), "the plugin child never started"
    child = int(pids.read_text().split()[0])
    assert _alive(child)

    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 2
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child), f"the {kind} child {child} outlived its parent"


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def test_children_of_an_aibench_running_as_pid_1_are_not_killed() -> None:
    """In a container aibench (or the wrapped runtime) may be pid 1: its children's parent is 1
    from the start, which must not read as "the parent is gone"."""
    code = ("import os\nassert os.getpid() == 1\n"
            "from aibench_plugins.core.isolate import call_isolated\n"
            "from aibench_plugins.runtime.background import Metrics\n"
            "from aibench_plugins.runtime.child import run_original\n"
            "assert call_isolated(lambda: 5, timeout_s=30).value == 5\n"
            "assert Metrics(lambda: ([1], [])).result(30) == ([1], [])\n"
            "assert run_original(['true']).exit_code == 0\n"
            "print('ok')\n")
    done = subprocess.run(["unshare", "--fork", "--pid", "--mount-proc", sys.executable, "-c", code],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout == "ok\n", done.stderr


def test_the_wrapped_runtimes_metrics_process_logs_its_plugins_output_capped(tmp_path: Path) -> None:
    from aibench_plugins.runtime.background import Metrics

    def compute() -> tuple[list[Any], list[Any]]:
        def loud() -> float:
            for _ in range(8 * 1024):
                print("w" * 1023)
            return 0.5

        return [call_isolated(loud, timeout_s=60, label="metric loud").value], []

    assert Metrics(compute, tmp_path / "metrics.log").result(60) == ([0.5], [])
    data = (tmp_path / "metrics.log").read_bytes()
    assert 2 << 20 < len(data) < (2 << 20) + 4096 and b"bytes cut here" in data
