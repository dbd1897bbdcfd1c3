"""Calling plugin code in isolation: a forked child process with a time limit, so that a
plugin that raises, crashes the interpreter or never returns is recorded as failed and
nothing else is lost.

The child dies with its parent (Linux ``PR_SET_PDEATHSIG``): a plugin that hangs never outlives
the ``aibench`` process that started it, even one killed with SIGKILL. What the child writes to
its standard output and error (``print()``, warnings, a subprocess's output) never reaches the
parent's streams: it goes to the current plugin log (:func:`plugin_log`), which keeps its head
and tail (:class:`~aibench_plugins.core.capture.CappedLog`), and the end of each call's output comes
back in its :class:`Outcome`.
"""

from __future__ import annotations

import multiprocessing
import os
import selectors
import signal
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .capture import PLUGIN_LOG_CAP, CappedLog, LogCap, fd_streams
from .lifetime import die_with_parent

__all__ = ["Outcome", "call_isolated", "current_plugin_log", "die_with_parent", "plugin_log"]

#: the output of one call kept in its Outcome
OUTPUT_TAIL_BYTES = 4096


@dataclass(frozen=True)
class Outcome:
    """How an isolated call ended: ``ok`` with its ``value``, or not with an ``error``
    sentence (``RuntimeError: boom``, ``timed out after 5 s``, ``crashed (exit code -11)``).
    ``output_bytes`` is how much the call wrote to its standard output and error, and
    ``output_tail`` the end of it (at most 4 KiB)."""

    ok: bool
    value: Any = None
    error: str = ""
    traceback: str | None = None
    elapsed_s: float = 0.0
    output_bytes: int = 0
    output_tail: str = ""


_current: CappedLog | None = None


def current_plugin_log() -> CappedLog:
    """The log plugin children write to: the one :func:`plugin_log` set, else a log in memory
    of this process (its head and tail only)."""
    global _current
    if _current is None:
        _current = CappedLog(None, LogCap(64 << 10, 64 << 10))
    return _current


@contextmanager
def plugin_log(path: Path | None, cap: LogCap = PLUGIN_LOG_CAP) -> Iterator[CappedLog]:
    """Send the output of the plugin children started in the block to a :class:`CappedLog` at
    ``path`` (in memory when ``None``), closed at the end of the block."""
    global _current
    previous = _current
    log = CappedLog(path, cap)
    _current = log
    try:
        yield log
    finally:
        _current = previous
        log.close()


def call_isolated(function: Callable[[], Any], *, timeout_s: float | None, label: str = "") -> Outcome:
    """Call ``function()`` in a forked child; its return value must pickle.

    The child shares the parent's memory at the fork (inputs are not copied or
    pickled); only the result travels back. On timeout the child is killed; it is also
    killed when this process ends. Its output goes to :func:`current_plugin_log`, after a
    line naming ``label`` when it wrote something.
    """
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    out_read, out_write = os.pipe()
    parent = os.getpid()

    def child() -> None:
        die_with_parent(parent)
        os.dup2(out_write, 1)
        os.dup2(out_write, 2)
        os.close(out_write)
        os.close(out_read)
        sys.stdout, sys.stderr = fd_streams()  # whatever sys.stdout was (a test's capture, a CLI runner's buffer)
        try:
            result: tuple[Any, ...] = ("ok", function())
        except BaseException as error:  # noqa: BLE001 - everything is reported to the parent
            result = ("error", f"{type(error).__name__}: {error}", traceback.format_exc())
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001 - a closed or broken stream
                pass
        try:
            sender.send(result)
        except Exception as error:  # noqa: BLE001 - an unpicklable result
            sender.send(("error", f"its result cannot be sent back ({type(error).__name__}: {error})", None))

    started = time.monotonic()
    process = context.Process(target=child, daemon=True)
    try:
        process.start()
    finally:
        os.close(out_write)
        sender.close()
    output = _Output(out_read, label)
    try:
        message, timed_out = _wait(receiver, output, process, timeout_s, started)
    finally:
        receiver.close()
        if process.is_alive():
            process.kill()
        process.join()
        output.finish()
    elapsed = time.monotonic() - started
    extra: dict[str, Any] = {"output_bytes": output.total, "output_tail": output.tail()}
    if timed_out:
        return Outcome(False, error=f"timed out after {timeout_s:g} s", elapsed_s=elapsed, **extra)
    if message is None:
        return Outcome(False, error=f"crashed (exit code {process.exitcode})", elapsed_s=elapsed, **extra)
    if message[0] == "ok":
        return Outcome(True, value=message[1], elapsed_s=elapsed, **extra)
    return Outcome(False, error=message[1], traceback=message[2], elapsed_s=elapsed, **extra)


class _Output:
    """The output pipe of one child, read into the current plugin log (and a short tail)."""

    def __init__(self, fd: int, label: str) -> None:
        self.fd, self.label, self.total = fd, label, 0
        self.log = current_plugin_log()
        self._tail = bytearray()
        os.set_blocking(fd, False)

    def read(self) -> bool:
        """Read what is there (at most 4 MiB, so a flood never holds up the time limit);
        ``False`` at the end of the output."""
        for _ in range(64):
            try:
                chunk = os.read(self.fd, 65536)
            except BlockingIOError:
                return True
            except InterruptedError:
                continue
            if not chunk:
                return False
            if not self.total:
                self.log.write(f"--- output of {self.label or 'a plugin call'} ---\n".encode())
            self.total += len(chunk)
            self.log.write(chunk)
            self._tail += chunk[-OUTPUT_TAIL_BYTES:]
            del self._tail[:-OUTPUT_TAIL_BYTES]
        return True

    def finish(self) -> None:
        """Read what the ended child left in the pipe (not waiting for a grandchild), then close it."""
        try:
            self.read()
        finally:
            os.close(self.fd)

    def tail(self) -> str:
        return bytes(self._tail).decode("utf-8", "replace")


def _wait(receiver: Any, output: _Output, process: Any, timeout_s: float | None,
          started: float) -> tuple[tuple[Any, ...] | None, bool]:
    """Read the child's output until its result comes (``(message, False)``), it ends without one
    (``(None, False)``) or the time is up (``(None, True)``)."""
    with selectors.DefaultSelector() as selector:
        selector.register(receiver.fileno(), selectors.EVENT_READ, "result")
        selector.register(output.fd, selectors.EVENT_READ, "output")
        while True:
            left = None if timeout_s is None else timeout_s - (time.monotonic() - started)
            if left is not None and left <= 0:
                return None, True
            for key, _ in selector.select(left):
                if key.data == "output":
                    if not output.read():
                        selector.unregister(output.fd)
                    continue
                try:
                    return receiver.recv(), False
                except EOFError:
                    return None, False
