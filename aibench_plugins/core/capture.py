"""Bounded handling of output aibench does not control: plugin code's ``print()`` and the
logs and outputs of participants' processes.

* :class:`CappedLog` (compat's, the one the executors write participants' logs with) keeps the
  first and the last bytes of a stream and says, at the cut, how much was left out.
* :func:`capture_fds` sends this process's own file descriptors 1 and 2 (``print()``, C
  extensions, subprocesses) to a :class:`CappedLog` for the duration of a block, so plugin
  code imported in-process never reaches the command line's streams.
* :func:`read_tail` and :func:`read_head` (compat's) read at most a given number of bytes of a
  file, never all of it, never through a link.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from codalab_worker_compat import CappedLog, LogCap, read_head, read_tail

__all__ = ["PLUGIN_LOG_CAP", "CappedLog", "LogCap", "capture_fds", "read_head", "read_tail"]

#: how much of the plugins' output a run keeps: 1 MiB from the start, 1 MiB from the end
PLUGIN_LOG_CAP = LogCap(1 << 20, 1 << 20)


def fd_streams() -> tuple[TextIO, TextIO]:
    """New ``sys.stdout`` and ``sys.stderr`` writing to file descriptors 1 and 2 (not closing them)."""
    return (open(1, "w", encoding="utf-8", errors="replace", closefd=False, buffering=1),  # noqa: SIM115
            open(2, "w", encoding="utf-8", errors="replace", closefd=False, buffering=1))  # noqa: SIM115


def _drain(fd: int, log: CappedLog) -> None:
    """Read ``fd`` to its end into ``log``, then close it."""
    try:
        while True:
            try:
                chunk = os.read(fd, 65536)
            except InterruptedError:
                continue
            if not chunk:
                return
            log.write(chunk)
    finally:
        os.close(fd)


@contextmanager
def capture_fds(log: CappedLog, fds: tuple[int, ...] = (1, 2)) -> Iterator[CappedLog]:
    """Send what this process writes to ``fds`` (default stdout and stderr) to ``log`` while the
    block runs; the streams are restored (and ``log`` holds everything written) at its end."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):
            pass
    read_end, write_end = os.pipe()
    saved = {fd: os.dup(fd) for fd in fds}
    reader = threading.Thread(target=_drain, args=(read_end, log), name="aibench-capture", daemon=True)
    reader.start()
    streams = sys.stdout, sys.stderr
    try:
        for fd in fds:
            os.dup2(write_end, fd)
        os.close(write_end)
        sys.stdout, sys.stderr = fd_streams()  # print() too, whatever sys.stdout was
        yield log
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.close() if stream not in streams else stream.flush()  # closes no descriptor
            except (OSError, ValueError, AttributeError):
                pass
        sys.stdout, sys.stderr = streams
        for fd, copy in saved.items():
            os.dup2(copy, fd)
            os.close(copy)
        reader.join(timeout=5)  # ends at EOF, once no process holds the write end (a leftover child may)
