"""Plugin code runs in a forked child: failures of every sort are reported, none spreads."""

from __future__ import annotations

import os
import time

from aibench_plugins._isolate import call_isolated


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
