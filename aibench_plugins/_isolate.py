"""Calling plugin code in isolation: a forked child process with a time limit, so that a
plugin that raises, crashes the interpreter or never returns is recorded as failed and
nothing else is lost."""

from __future__ import annotations

import multiprocessing
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Outcome:
    """How an isolated call ended: ``ok`` with its ``value``, or not with an ``error``
    sentence (``RuntimeError: boom``, ``timed out after 5 s``, ``crashed (exit code -11)``)."""

    ok: bool
    value: Any = None
    error: str = ""
    traceback: str | None = None
    elapsed_s: float = 0.0


def call_isolated(function: Callable[[], Any], *, timeout_s: float | None) -> Outcome:
    """Call ``function()`` in a forked child; its return value must pickle.

    The child shares the parent's memory at the fork (inputs are not copied or
    pickled); only the result travels back. On timeout the child is killed.
    """
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)

    def child() -> None:
        try:
            result: tuple[Any, ...] = ("ok", function())
        except BaseException as error:  # noqa: BLE001 - everything is reported to the parent
            result = ("error", f"{type(error).__name__}: {error}", traceback.format_exc())
        try:
            sender.send(result)
        except Exception as error:  # noqa: BLE001 - an unpicklable result
            sender.send(("error", f"its result cannot be sent back ({type(error).__name__}: {error})", None))

    started = time.monotonic()
    process = context.Process(target=child, daemon=True)
    process.start()
    sender.close()
    try:
        if receiver.poll(timeout_s):
            try:
                message = receiver.recv()
            except EOFError:
                message = None
        else:
            process.kill()
            process.join()
            return Outcome(False, error=f"timed out after {timeout_s:g} s", elapsed_s=time.monotonic() - started)
    finally:
        receiver.close()
    process.join()
    elapsed = time.monotonic() - started
    if message is None:
        return Outcome(False, error=f"crashed (exit code {process.exitcode})", elapsed_s=elapsed)
    if message[0] == "ok":
        return Outcome(True, value=message[1], elapsed_s=elapsed)
    return Outcome(False, error=message[1], traceback=message[2], elapsed_s=elapsed)
